package entity_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/value"
)

// FuzzDecodeCanonical: a stored or received state is refused with an error
// wrapping ErrInvalid, or it re-encodes to canonical bytes that decode to a
// state encoding to the same bytes, with the same id, collection, head and
// values.
func FuzzDecodeCanonical(f *testing.F) {
	s := sample()
	b, _ := s.Encode()
	f.Add(b)
	empty := entity.State{Collection: "c"}
	b, _ = empty.Encode()
	f.Add(b)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := entity.Decode(b)
		if err != nil {
			if !errors.Is(err, entity.ErrInvalid) {
				t.Fatalf("Decode error %v does not wrap ErrInvalid", err)
			}
			return
		}
		enc, err := st.Encode()
		if err != nil {
			t.Fatalf("decoded state does not encode: %v", err)
		}
		back, err := entity.Decode(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		again, _ := back.Encode()
		if !bytes.Equal(enc, again) {
			t.Fatalf("decode∘encode not stable: %x vs %x", enc, again)
		}
		if back.ID != st.ID || back.Collection != st.Collection || !back.Head.Equal(st.Head) || back.Values.Len() != st.Values.Len() {
			t.Fatalf("round trip changed the state: %+v vs %+v", st, back)
		}
		for k, v := range st.Values.All() {
			if !value.Equal(v, back.Values.Get(k)) {
				t.Fatalf("value %q: %v became %v", k, v, back.Values.Get(k))
			}
		}
	})
}
