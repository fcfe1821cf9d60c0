package entity

import (
	"reflect"
	"testing"

	"github.com/ankurah/ankurah-go/core/value"
)

// TestFieldsMirrorState: the generic codec's view of a State (fields) has
// the same fields, in the same order, with the same CBOR keys; only the
// backends' and the values' types differ (each is the map it is encoded
// as). A field added to State but not to fields would silently be dropped
// by the generic encoder and decoders.
func TestFieldsMirrorState(t *testing.T) {
	st, f := reflect.TypeFor[State](), reflect.TypeFor[fields]()
	if st.NumField() != f.NumField() {
		t.Fatalf("State has %d fields, fields has %d", st.NumField(), f.NumField())
	}
	// The fields whose generic view is a map of another type.
	asMap := map[string][2]reflect.Type{
		"Backends": {reflect.TypeFor[Backends](), reflect.TypeFor[map[string][]byte]()},
		"Values":   {reflect.TypeFor[value.Fields](), reflect.TypeFor[map[string]value.Value]()},
	}
	for i := range st.NumField() {
		a, b := st.Field(i), f.Field(i)
		if a.Name != b.Name || a.Tag != b.Tag {
			t.Errorf("field %d: State has %s %q, fields has %s %q", i, a.Name, a.Tag, b.Name, b.Tag)
		}
		want := [2]reflect.Type{a.Type, a.Type}
		if m, ok := asMap[a.Name]; ok {
			want = m
		}
		if a.Type != want[0] || b.Type != want[1] {
			t.Errorf("field %s: State's type %v, fields' %v; want %v, %v", a.Name, a.Type, b.Type, want[0], want[1])
		}
	}
}
