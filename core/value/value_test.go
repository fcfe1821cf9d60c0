package value

import (
	"math"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestCompare_TotalOrderAcrossKinds(t *testing.T) {
	ordered := []Value{
		Null, Bool(false), Bool(true), Float(-1.5), Int(-1), Int(0), Float(0.5), Int(1), Float(1e300),
		String(""), String("A"), String("a"), String("é"), Bytes(nil), Bytes([]byte{1}),
		MustJSON(`[1]`), MustJSON(`{"a":1}`),
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(ordered[i], ordered[j]); got != want {
				t.Errorf("Compare(%#v, %#v) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if Compare(Int(1), Float(1)) != 0 {
		t.Error("Int(1) and Float(1.0) must compare equal")
	}
	if CompareIntFloat(9007199254740993, 9007199254740992.0) != 1 {
		t.Error("int/float comparison must be exact beyond 2^53")
	}
}

func TestCBOR_RoundTrip(t *testing.T) {
	for _, v := range []Value{Null, Bool(true), Bool(false), Int(-5), Int(1 << 60), Float(1), Float(-2.5),
		String("héllo 🎵"), Bytes([]byte{0, 1, 2}), MustJSON(`{"b":[1,2.5,"x"],"a":null}`), Ref([32]byte{9})} {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got Value
		if err := cbor.Unmarshal(b, &got); err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		if got != v {
			t.Errorf("round trip %#v -> %#v", v, got)
		}
	}
}

func TestPath_JSONRules(t *testing.T) {
	doc := MustJSON(`{"meta":{"tracks":12,"rating":4.5,"name":"x","nothing":null,"list":[1,{"a":true}]}}`)
	cases := []struct {
		path []string
		want Value
	}{
		{[]string{"meta", "tracks"}, Int(12)},
		{[]string{"meta", "rating"}, Float(4.5)},
		{[]string{"meta", "name"}, String("x")},
		{[]string{"meta", "nothing"}, Null},
		{[]string{"meta", "missing"}, Null},
		{[]string{"meta", "name", "deeper"}, Null},
		{[]string{"meta", "list", "1", "a"}, Bool(true)},
		{[]string{"meta", "list"}, MustJSON(`[1,{"a":true}]`)},
	}
	for _, c := range cases {
		if got := doc.Path(c.path); got != c.want {
			t.Errorf("Path(%v) = %#v, want %#v", c.path, got, c.want)
		}
	}
}

func TestJSON_Canonical(t *testing.T) {
	a := MustJSON(`{ "b": 1, "a": [1, 2.50] }`)
	b := MustJSON(`{"a":[1,2.50],"b":1}`)
	if a != b {
		t.Errorf("%s != %s", a.Raw(), b.Raw())
	}
}

// A float is held in the same word as an int: each accessor answers only
// for its own kind, floats keep their exact number, and equal floats (-0
// folded into +0) are equal values.
func TestFloat_SharesTheIntWordWithoutLeaking(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(-1)} {
		v := Float(f)
		if got, ok := v.AsFloat(); !ok || got != f {
			t.Fatalf("Float(%v).AsFloat() = %v, %v", f, got, ok)
		}
		if i, ok := v.AsInt(); ok || i != 0 {
			t.Fatalf("Float(%v).AsInt() = %d, %v; want 0, false", f, i, ok)
		}
		if b, ok := v.AsBool(); ok || b {
			t.Fatalf("Float(%v).AsBool() = %v, %v; want false, false", f, b, ok)
		}
	}
	if Float(math.Copysign(0, -1)) != Float(0) {
		t.Fatal("-0 and +0 are different values")
	}
	if b, ok := Int(1).AsBool(); ok || b {
		t.Fatal("an int answers AsBool")
	}
	if !Float(math.NaN()).IsNull() {
		t.Fatal("NaN is not NULL")
	}
}
