package property

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// FuzzLWWOpsDecode holds the operations decoder's fast path to the generic
// decoder: whatever it reads, the generic decoder reads as the same
// payload, and the payload keeps none of the input.
func FuzzLWWOpsDecode(f *testing.F) {
	for _, set := range []map[string]value.Value{
		{"name": value.String("Showbiz"), "year": value.Int(1999), "_deleted": value.Bool(true)},
		{"score": value.Float(0.5), "f": value.Float(0.1), "cover": value.Bytes([]byte{1, 2}), "j": value.MustJSON(`{"a":[1]}`), "r": value.Ref(id.EntityID{3}), "gone": value.Null},
		{},
	} {
		b, err := appendLWWOps(nil, 1<<33, pairsOf(set))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		fast, ok := readLWWOps(in)
		if !ok {
			return
		}
		var want lwwOps
		if err := decMode.Unmarshal(b, &want); err != nil {
			t.Fatalf("%x: read %#v, the generic decoder refuses it: %v", b, fast, err)
		}
		for i := range in {
			in[i] ^= 0xff
		}
		got := make(map[string]value.Value, len(fast.Set))
		for _, w := range fast.Set {
			got[w.prop] = w.v
		}
		if len(got) != len(fast.Set) {
			t.Fatalf("%x: a name read twice: %#v", b, fast)
		}
		if fast.Height != want.Height || !reflect.DeepEqual(got, want.Set) {
			t.Fatalf("%x: fast %#v, generic %#v", b, fast, want)
		}
	})
}
