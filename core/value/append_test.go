package value_test

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

var genericEnc, _ = cbor.CoreDetEncOptions().EncMode()

// genericCBOR is the encoding of v as the generic CBOR encoder writes it,
// what AppendCBOR must write byte for byte.
func genericCBOR(v value.Value) ([]byte, error) {
	switch v.Kind() {
	case value.KindNull:
		return genericEnc.Marshal(nil)
	case value.KindBool:
		b, _ := v.AsBool()
		return genericEnc.Marshal(b)
	case value.KindInt:
		i, _ := v.AsInt()
		return genericEnc.Marshal(i)
	case value.KindFloat:
		f, _ := v.AsFloat()
		return genericEnc.Marshal(f)
	case value.KindString:
		s, _ := v.AsString()
		if !utf8.ValidString(s) {
			return nil, errors.New("not UTF-8") // what MarshalCBOR always refused
		}
		return genericEnc.Marshal(s)
	case value.KindBytes:
		return genericEnc.Marshal([]byte(v.Raw()))
	case value.KindJSON:
		return genericEnc.Marshal(cbor.Tag{Number: value.TagJSON, Content: []byte(v.Raw())})
	case value.KindRef:
		return genericEnc.Marshal(cbor.Tag{Number: value.TagRef, Content: []byte(v.Raw())})
	}
	panic("unknown kind")
}

// FuzzAppendCBOR holds AppendCBOR to the generic encoder: the same bytes for
// every value, after what dst held, and an error for the same values
// (strings that are not UTF-8).
func FuzzAppendCBOR(f *testing.F) {
	for _, i := range []int64{0, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxInt64, -1, -24, -25, -256, -257, math.MinInt64} {
		f.Add(uint8(value.KindInt), i, uint64(0), "")
	}
	for _, x := range []float64{0, 1.5, 0.1, 1e300, 5.960464477539063e-08, 65504, 65520, math.Inf(1), math.SmallestNonzeroFloat64, float64(float32(0.1))} {
		f.Add(uint8(value.KindFloat), int64(0), math.Float64bits(x), "")
	}
	for k := range uint8(value.KindRef) + 1 {
		f.Add(k, int64(1), uint64(0), `{"a": [1, "é"]}`)
		f.Add(k, int64(0), uint64(0), string(bytes.Repeat([]byte("x"), 300)))
	}
	f.Add(uint8(value.KindString), int64(0), uint64(0), "\xff")
	f.Fuzz(func(t *testing.T, kind uint8, i int64, bits uint64, s string) {
		var v value.Value
		switch value.Kind(kind % 8) {
		case value.KindBool:
			v = value.Bool(i != 0)
		case value.KindInt:
			v = value.Int(i)
		case value.KindFloat:
			v = value.Float(math.Float64frombits(bits))
		case value.KindString:
			v = value.String(s)
		case value.KindBytes:
			v = value.Bytes([]byte(s))
		case value.KindJSON:
			var err error
			if v, err = value.JSON([]byte(s)); err != nil {
				return
			}
		case value.KindRef:
			var e id.EntityID
			copy(e[:], s)
			v = value.Ref(e)
		}
		want, werr := genericCBOR(v)
		prefix := []byte{0xde, 0xad}
		got, err := v.AppendCBOR(bytes.Clone(prefix))
		if (err != nil) != (werr != nil) {
			t.Fatalf("%#v: AppendCBOR error %v, generic %v", v, err, werr)
		}
		if err == nil && (!bytes.Equal(got[:2], prefix) || !bytes.Equal(got[2:], want)) {
			t.Fatalf("%#v: AppendCBOR %x, generic %x", v, got, want)
		}
		if m, _ := v.MarshalCBOR(); err == nil && !bytes.Equal(m, want) {
			t.Fatalf("%#v: MarshalCBOR %x, generic %x", v, m, want)
		}
	})
}
