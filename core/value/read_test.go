package value_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// FuzzReadCanonical holds ReadCanonical to the generic decoder: whatever it
// reads (a prefix of the input), the generic decoder reads as the same
// value, and the value keeps none of the input.
func FuzzReadCanonical(f *testing.F) {
	for _, v := range []value.Value{value.Null, value.Bool(false), value.Bool(true), value.Int(0), value.Int(-1 << 40), value.Int(1<<63 - 1),
		value.Float(1.5), value.Float(-0.1), value.Float(5.960464477539063e-08), value.Float(float64(float32(0.1))), value.Float(65504),
		value.String("é"), value.Bytes([]byte{0, 1}), value.MustJSON(`{"b":[1,2.50],"a":"x"}`), value.Ref(id.EntityID{1})} {
		b, err := v.MarshalCBOR()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(b, 0x01))
	}
	for _, b := range [][]byte{{0xf9, 0x7c, 0x00}, {0xf9, 0xfc, 0x00}, {0xf9, 0x7e, 0x00}, {0xf9, 0x80, 0x00}, {0xf9, 0x03, 0xff}, {0xfa, 0x7f, 0xc0, 0, 0}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		v, n, ok := value.ReadCanonical(in)
		if !ok {
			return
		}
		want, err := value.UnmarshalGeneric(b[:n])
		if err != nil {
			t.Fatalf("%x: ReadCanonical read %#v, the generic decoder refuses it: %v", b[:n], v, err)
		}
		for i := range in {
			in[i] ^= 0xff
		}
		if !reflect.DeepEqual(v, want) {
			t.Fatalf("%x: ReadCanonical %#v, generic %#v", b[:n], v, want)
		}
	})
}
