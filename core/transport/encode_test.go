package transport_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// responseFrom builds a message from fuzz bytes: mostly a response (any id,
// error text, code, kinds, states, unchanged ids, More), a commit's updates
// (nil and empty items, every tag, Gone or not) or a commit request (nil and
// empty events, genesis or not, expected heads nil, empty or not), sometimes
// with another part or body, which the generic encoder writes.
func responseFrom(b []byte) *transport.Message {
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
	word := func() uint64 { return binary.BigEndian.Uint64(append(next(8), make([]byte, 8)...)) }
	r := &transport.Response{ID: word() >> (num() % 64), Error: string(next(num() % 30)), Code: transport.Code(num() % 3), Kinds: string(next(num() % 10))}
	for range num() % 5 {
		s := entity.State{Collection: string(next(num() % 12))}
		copy(s.ID[:], next(id.Size))
		if num()%4 != 0 {
			var e id.EventID
			copy(e[:], next(id.Size))
			s.Head = event.Clock{e}
		}
		if k := num() % 4; k > 0 {
			s.Backends = entity.BackendsOf(map[string][]byte{"lww": next(num())})
			vals := map[string]value.Value{}
			for range k {
				vals[string(next(num()%8))] = value.String(string(next(num() % 8)))
				vals[string(next(num()%8))] = value.Int(int64(word()))
			}
			s.Values = value.FieldsOf(vals)
		}
		r.States = append(r.States, s)
	}
	for range num() % 4 {
		var e id.EntityID
		copy(e[:], next(id.Size))
		r.Unchanged = append(r.Unchanged, e)
	}
	m := &transport.Message{Response: r, More: num()%2 == 0}
	if num()%3 == 0 { // the states as a commit's updates instead
		m.Response = nil
		for k := range num()%3 + 1 {
			u := transport.Update{Sub: word() >> (num() % 64)}
			if k > 0 || num()%4 != 0 {
				u.Items = []transport.UpdateItem{}
			}
			for _, s := range r.States {
				u.Items = append(u.Items, transport.UpdateItem{Tag: transport.Tag(num() % 5), State: s, Gone: num()%2 == 0})
			}
			m.Updates = append(m.Updates, u)
		}
	}
	if num()%4 == 0 { // a commit request instead
		q := &transport.Request{ID: word() >> (num() % 64), Commit: &transport.CommitReq{}}
		if num()%4 != 0 {
			q.Commit.Events = []event.Event{}
		}
		for range num() % 4 {
			ops := map[string][]byte{string(next(num() % 6)): next(num() % 40)}
			if num()%3 == 0 {
				ops[string(next(num()%6))] = nil
			}
			if num()%2 == 0 {
				q.Commit.Events = append(q.Commit.Events, event.NewGenesis(string(next(num()%12)), ops, next(num()%20), int64(word())))
			} else {
				var eid id.EntityID
				copy(eid[:], next(id.Size))
				var p id.EventID
				copy(p[:], next(id.Size))
				q.Commit.Events = append(q.Commit.Events, event.New(string(next(num()%12)), eid, event.Clock{p}, ops))
			}
		}
		for range num() % 3 {
			k := transport.Known{}
			copy(k.Entity[:], next(id.Size))
			if n := num() % 3; n > 0 {
				k.Head = make(event.Clock, n-1)
				for i := range k.Head {
					copy(k.Head[i][:], next(id.Size))
				}
			}
			q.Commit.Expect = append(q.Commit.Expect, k)
		}
		for range num() % 3 {
			var e id.EntityID
			copy(e[:], next(id.Size))
			q.Commit.Current = append(q.Commit.Current, e)
		}
		m = &transport.Message{Request: q, More: num()%5 == 0}
		if num()%5 == 0 {
			q.Get = &transport.GetReq{Collection: "c"}
		}
		return m
	}
	switch num() % 8 {
	case 1:
		m.Credentials = []byte{}
	case 2:
		m.Credentials = []byte("x")
	case 3:
		r.Events = []event.Event{event.NewGenesis("c", nil, make([]byte, event.NonceSize), 1)}
		if m.Response == nil {
			m.Hello = &transport.Hello{NodeID: "n"}
		}
	case 4:
		m.Fault = &transport.Fault{Message: "y"}
	case 5:
		r.States = []entity.State{}
	}
	return m
}

// FuzzEncodeResponse holds Encode's hand-written responses, updates and
// commit requests to the generic encoder: the same bytes, or an error for
// the same messages.
func FuzzEncodeResponse(f *testing.F) {
	f.Add(bytes.Repeat([]byte{3, 7, 250, 1, 0xff, 24, 0x80}, 80))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0x11}, 400))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := responseFrom(b)
		want, werr := transport.EncodeGeneric(m)
		got, err := transport.Encode(m)
		if werr == nil && len(want) > transport.MaxFrameSize {
			return
		}
		if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("%#v:\nEncode  %x (%v)\ngeneric %x (%v)", m, got, err, want, werr)
		}
	})
}

// TestFieldLayout_HandWrittenEncodersKnowEveryField: the message types the
// hand-written encoders write have the fields those encoders know. When a
// field is added to one, Encode writes every message with the generic
// encoder (nothing is dropped) and this test fails until encode.go learns
// the field and handLayouts is updated.
func TestFieldLayout_HandWrittenEncodersKnowEveryField(t *testing.T) {
	if changed := transport.ChangedLayouts(); len(changed) > 0 {
		t.Fatalf("the fields of %v changed: teach encode.go the new ones, then update handLayouts", changed)
	}
}
