package text

import (
	"errors"
	"maps"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
)

// FuzzDecodeStateVector: a state vector from a peer (Yjs sync step 1) is
// refused with an error wrapping ErrInvalidUpdate, or decodes to a vector
// whose encoding decodes to the same vector, and a document can answer it
// with a diff that applies.
func FuzzDecodeStateVector(f *testing.F) {
	d := NewDoc(5)
	_ = d.Insert("t", 0, "héllo")
	f.Add(d.EncodeStateVector())
	f.Add(EncodeStateVector(map[uint64]uint64{1: 2, 1 << 60: 1 << 40}))
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		sv, err := DecodeStateVector(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidUpdate) {
				t.Fatalf("DecodeStateVector error %v does not wrap ErrInvalidUpdate", err)
			}
			return
		}
		back, err := DecodeStateVector(EncodeStateVector(sv))
		if err != nil || !maps.Equal(sv, back) {
			t.Fatalf("state vector %v round-trips to %v, %v", sv, back, err)
		}
		doc := NewDoc(5)
		_ = doc.Insert("t", 0, "héllo")
		if err := NewDoc(6).ApplyUpdate(doc.EncodeDiff(sv)); err != nil {
			t.Fatalf("diff against %v does not apply: %v", sv, err)
		}
	})
}

// FuzzBackendApply: the text backend's state (from storage) and an event's
// operations (from a peer) are refused with errors wrapping
// property.ErrInvalid, or applied; the resulting state loads again to the
// same text.
func FuzzBackendApply(f *testing.F) {
	b := New(WithClientIDs(counter(10)))
	fork := b.Fork().(*Backend)
	_ = fork.Doc().Insert("body", 0, "abc")
	ops, _ := fork.TakeOperations()
	_ = b.Apply(id.EventID{1}, ops)
	state, _ := b.State()
	f.Add(state, ops)
	f.Add([]byte{}, ops)
	f.Add(state, []byte{})
	f.Add(state, []byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, state, ops []byte) {
		b, err := Load(state, WithClientIDs(counter(1<<40)))
		if err != nil {
			if !errors.Is(err, property.ErrInvalid) {
				t.Fatalf("Load error %v does not wrap property.ErrInvalid", err)
			}
			return
		}
		if err := b.Apply(id.EventID{2}, ops); err != nil {
			if !errors.Is(err, property.ErrInvalid) {
				t.Fatalf("Apply error %v does not wrap property.ErrInvalid", err)
			}
			return
		}
		after, err := b.State()
		if err != nil {
			t.Fatal(err)
		}
		re, err := Load(after, WithClientIDs(counter(1<<41)))
		if err != nil {
			t.Fatalf("state after Apply does not load: %v", err)
		}
		if !maps.Equal(b.Values().Map(), re.Values().Map()) {
			t.Fatalf("reload changed the text: %v vs %v", b.Values(), re.Values())
		}
	})
}

// counter draws client ids from, from+1, … (the backend skips ids a document
// already holds, so a constant draw could never be satisfied).
func counter(from uint64) func() uint64 {
	return func() uint64 { from++; return from }
}
