package event_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
)

// eventFrom builds an event from fuzz bytes: genesis or not, any
// collection and operation names, parents in any order, nil and empty
// operation buffers, any nonce and timestamp.
func eventFrom(b []byte) event.Event {
	next := func(n int) []byte {
		n = min(n, len(b))
		out := b[:n]
		b = b[n:]
		return out
	}
	num := func() int {
		if x := next(1); len(x) == 1 {
			return int(x[0])
		}
		return 0
	}
	var e event.Event
	e.Collection = string(next(num() % 40))
	if k := num() % 5; k > 0 {
		copy(e.Entity[:], next(id.Size))
		e.Parent = make(event.Clock, k)
		for i := range e.Parent {
			copy(e.Parent[i][:], next(id.Size))
		}
	}
	if k := num() % 6; k > 0 {
		e.Operations = map[string][]byte{}
		for range k - 1 {
			name := string(next(num() % 30))
			var ops []byte
			if n := num(); n%3 != 0 {
				ops = append([]byte{}, next(n%3*200)...)
			}
			e.Operations[name] = ops
		}
	}
	e.Nonce = next(num() % 20)
	e.Timestamp = int64(binary.BigEndian.Uint64(append(next(8), make([]byte, 8)...)))
	if num()%2 == 0 {
		e.Timestamp >>= 40
	}
	return e
}

// FuzzEncode holds Encode, MarshalCBOR, ID and EncodeClock to the generic
// encoder, byte for byte, for events decoded from the input and events built
// from it.
func FuzzEncode(f *testing.F) {
	g := event.NewGenesis("album", map[string][]byte{"lww": {0xa1, 1, 2}, "text": nil}, make([]byte, event.NonceSize), 1733000000000)
	c := event.New("album", g.Entity, event.NewClock(g.ID()), map[string][]byte{"lww": {}})
	for _, e := range []event.Event{g, c} {
		b, err := e.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(bytes.Repeat([]byte{9, 3, 250, 0, 7}, 90))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs := []event.Event{eventFrom(b)}
		if e, err := event.Decode(b); err == nil {
			evs = append(evs, e)
		}
		for _, e := range evs {
			want, err := event.EncodeGeneric(&e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Encode()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%#v:\nEncode  %x (%v)\ngeneric %x", e, got, err, want)
			}
			if m, _ := e.MarshalCBOR(); !bytes.Equal(m, want) {
				t.Fatalf("%#v: MarshalCBOR %x", e, m)
			}
			if id := event.ComputedID(&e); id != sha256.Sum256(want) {
				t.Fatalf("%#v: id %x, want the hash of %x", e, id, want)
			}
			for _, c := range []event.Clock{e.Parent, {}, nil} {
				cw, _ := event.EncodeClockGeneric(c)
				if cg, _ := event.EncodeClock(c); !bytes.Equal(cg, cw) {
					t.Fatalf("clock %v: EncodeClock %x, generic %x", c, cg, cw)
				}
			}
		}
	})
}

// FuzzReadWire holds the event decoder's fast path to the generic decoder:
// whatever it reads, the generic decoder reads as the same wire form.
func FuzzReadWire(f *testing.F) {
	g := event.NewGenesis("album", map[string][]byte{"lww": {0xa1, 1, 2}, "text": nil, "e": {}}, make([]byte, event.NonceSize), 1733000000000)
	c := event.New("album", g.Entity, event.NewClock(g.ID(), id.EventID{1}), map[string][]byte{"lww": {}})
	n := event.Event{Collection: "c", Entity: id.EntityID{2}, Parent: event.Clock{{3}}, Nonce: []byte{}, Timestamp: -5}
	for _, e := range []event.Event{g, c, n} {
		b, err := e.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xa2, 0x01, 0x60, 0x04, 0xa0})
	f.Add([]byte{0xa2, 0x01, 0x60, 0x05, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		ok, equal, err := event.ReadWire(b)
		if ok && (err != nil || !equal) {
			t.Fatalf("%x: the fast decoder read it, the generic one: equal %v, %v", b, equal, err)
		}
	})
}

// TestFieldLayout_HandWrittenCodecsKnowEveryField: the event's wire form has
// the fields the hand-written encoder and decoder were written for. When a
// field is added, they leave events to the generic codec (nothing is
// dropped) and this test fails until they learn it.
func TestFieldLayout_HandWrittenCodecsKnowEveryField(t *testing.T) {
	if !event.HandWritten {
		t.Fatal("the fields of event's wire form changed: teach appendEvent and readWire the new ones, then update wireLayout")
	}
	type sample struct {
		A string        `cbor:"1,keyasint"`
		B []event.Clock `cbor:"2,keyasint,omitempty"`
	}
	if got, want := event.FieldLayout(reflect.TypeFor[sample]()), `A string "1,keyasint"; B []event.Clock "2,keyasint,omitempty"; `; got != want {
		t.Fatalf("FieldLayout %q, want %q", got, want)
	}
}
