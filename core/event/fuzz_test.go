package event_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
)

// FuzzDecodeClock: a clock from a peer or from storage is refused with an
// error wrapping ErrInvalid or ErrTooLarge, or it is valid (sorted, no
// duplicates) and re-encodes to bytes that decode to the same clock.
func FuzzDecodeClock(f *testing.F) {
	for _, c := range []event.Clock{nil, {}, {{1}}, event.NewClock(id.EventID{3}, id.EventID{1}, id.EventID{2})} {
		b, err := event.EncodeClock(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x82, 0x58, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := event.DecodeClock(b)
		if err != nil {
			if !errors.Is(err, event.ErrInvalid) && !errors.Is(err, event.ErrTooLarge) {
				t.Fatalf("DecodeClock error %v wraps neither ErrInvalid nor ErrTooLarge", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("decoded clock does not validate: %v", err)
		}
		enc, err := event.EncodeClock(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := event.DecodeClock(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		again, _ := event.EncodeClock(back)
		if !bytes.Equal(enc, again) {
			t.Fatalf("decode∘encode not stable: %x vs %x", enc, again)
		}
	})
}

// FuzzDecodeCanonical: every error of Decode wraps ErrInvalid or
// ErrTooLarge, and an event that decodes re-encodes to canonical bytes that
// decode to an event with the same id and the same encoding.
func FuzzDecodeCanonical(f *testing.F) {
	g := event.NewGenesis("album", map[string][]byte{"lww": {1}}, make([]byte, event.NonceSize), 5)
	b, _ := g.Encode()
	f.Add(b)
	c := event.Event{Collection: "a", Entity: g.Entity, Parent: event.NewClock(g.ID()), Operations: map[string][]byte{"lww": {0xa0}, "text": {0, 0}}}
	b, _ = c.Encode()
	f.Add(b)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := event.Decode(b)
		if err != nil {
			if !errors.Is(err, event.ErrInvalid) && !errors.Is(err, event.ErrTooLarge) {
				t.Fatalf("Decode error %v wraps neither ErrInvalid nor ErrTooLarge", err)
			}
			return
		}
		enc, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := event.Decode(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		again, _ := back.Encode()
		if back.ID() != e.ID() || !bytes.Equal(enc, again) {
			t.Fatalf("decode∘encode not stable: %x vs %x", enc, again)
		}
	})
}
