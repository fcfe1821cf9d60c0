package entity

import (
	"reflect"
	"testing"
)

// TestFieldsMirrorState: the generic codec's view of a State (fields) has
// the same fields, in the same order, with the same CBOR keys; only the
// backends' type differs. A field added to State but not to fields would
// silently be dropped by the generic encoder and decoders.
func TestFieldsMirrorState(t *testing.T) {
	st, f := reflect.TypeFor[State](), reflect.TypeFor[fields]()
	if st.NumField() != f.NumField() {
		t.Fatalf("State has %d fields, fields has %d", st.NumField(), f.NumField())
	}
	for i := range st.NumField() {
		a, b := st.Field(i), f.Field(i)
		if a.Name != b.Name || a.Tag != b.Tag {
			t.Errorf("field %d: State has %s %q, fields has %s %q", i, a.Name, a.Tag, b.Name, b.Tag)
		}
		if a.Name != "Backends" && a.Type != b.Type {
			t.Errorf("field %s: State's type %v, fields' %v", a.Name, a.Type, b.Type)
		}
	}
}
