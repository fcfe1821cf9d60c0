package value_test

import (
	"bytes"
	"testing"

	"github.com/ankurah/ankurah-go/core/value"
)

// FuzzUnmarshalCBOR: a property value inside a peer's operations or a
// stored state either fails to decode with an error saying what was wrong,
// or decodes to a value whose encoding decodes to an equal value encoding
// to the same bytes.
func FuzzUnmarshalCBOR(f *testing.F) {
	j, _ := value.FromJSON([]byte(`{"a":[1,2.5,"x"]}`))
	for _, v := range []value.Value{value.Null, value.Bool(true), value.Int(-3), value.Float(2.5), value.String("é"), value.Bytes([]byte{0}), j, value.Ref([32]byte{1})} {
		b, err := v.MarshalCBOR()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v value.Value
		if err := v.UnmarshalCBOR(b); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		enc, err := v.MarshalCBOR()
		if err != nil {
			t.Fatalf("decoded value %v does not encode: %v", v, err)
		}
		var back value.Value
		if err := back.UnmarshalCBOR(enc); err != nil {
			t.Fatalf("re-decode of %x: %v", enc, err)
		}
		again, _ := back.MarshalCBOR()
		if !value.Equal(v, back) || !bytes.Equal(enc, again) {
			t.Fatalf("round trip changed %v (%x) into %v (%x)", v, enc, back, again)
		}
	})
}

// FuzzFromJSON: JSON text from a client (a binding's write, a query
// argument) becomes a value or an error; a value's JSON form reads back as an
// equal value.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{`null`, `true`, `-12`, `1.5e3`, `"x"`, `{"b":1,"a":[null]}`, `123456789012345678901234567890`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := value.FromJSON(b)
		if err != nil {
			return
		}
		enc, err := v.MarshalJSON()
		if err != nil {
			t.Fatalf("value %v from %q does not encode as JSON: %v", v, b, err)
		}
		back, err := value.FromJSON(enc)
		if err != nil {
			t.Fatalf("JSON %s of %v does not read back: %v", enc, v, err)
		}
		if v.Kind() == value.KindFloat || v.Kind() == value.KindInt {
			// MarshalJSON writes an integral float as an integer.
			if value.Compare(v, back) != 0 {
				t.Fatalf("%v (from %q) read back as %v", v, b, back)
			}
			return
		}
		if !value.Equal(v, back) {
			t.Fatalf("%v (from %q) read back as %v", v, b, back)
		}
	})
}

// A JSON number beyond float64's range is refused rather than read as an
// infinity no JSON can write back (found by FuzzFromJSON;
// testdata/fuzz/FuzzFromJSON/2db52124b311aa57).
func TestFromJSON_RefusesNumbersBeyondFloat64(t *testing.T) {
	for _, s := range []string{"1E1000", "-1e400"} {
		if v, err := value.FromJSON([]byte(s)); err == nil {
			t.Errorf("FromJSON(%s) = %v, want an error", s, v)
		}
	}
	if v, err := value.FromJSON([]byte("1e308")); err != nil || v.Kind() != value.KindFloat {
		t.Errorf("FromJSON(1e308) = %v, %v", v, err)
	}
}
