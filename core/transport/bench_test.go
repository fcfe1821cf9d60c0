package transport_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// catchUpStates returns n states as a server sends them to a catching-up
// client: entities of one collection with a name and a number, stored by a
// node.
func catchUpStates(b *testing.B, n int) []entity.State {
	ctx := context.Background()
	eng := memory.New()
	node, err := core.NewNode(ctx, eng, policy.Permissive{})
	if err != nil {
		b.Fatal(err)
	}
	defer node.Close()
	trx := node.Context(nil).Begin()
	var muts []*core.Mut
	for k := range n {
		m, _ := trx.Create(ctx, "album")
		m.Set("name", "x")
		m.Set("k", k)
		muts = append(muts, m)
	}
	if err := trx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	coll, _ := eng.Collection(ctx, "album")
	out := make([]entity.State, 0, n)
	for _, m := range muts {
		s, err := coll.GetState(ctx, m.ID())
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// BenchmarkMessage_DecodeStates decodes a response carrying 500 states, a
// part of a catch-up.
func BenchmarkMessage_DecodeStates(b *testing.B) {
	frame, err := transport.Encode(&transport.Message{Response: &transport.Response{ID: 1, States: catchUpStates(b, 500)}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := transport.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessage_EncodeStates encodes the same response.
func BenchmarkMessage_EncodeStates(b *testing.B) {
	m := &transport.Message{Response: &transport.Response{ID: 1, States: catchUpStates(b, 500)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transport.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

// commitEvents returns n genesis events as a client's bulk commit carries
// them: each sets a name and a year through the LWW backend.
func commitEvents(b *testing.B, n int) []event.Event {
	out := make([]event.Event, 0, n)
	for k := range n {
		l := property.NewLWW()
		l.Set("name", value.String(fmt.Sprintf("album %d", k)))
		l.Set("year", value.Int(int64(1950+k%70)))
		ops, err := l.TakeOperations()
		if err != nil {
			b.Fatal(err)
		}
		nonce := make([]byte, event.NonceSize)
		nonce[0], nonce[1] = byte(k), byte(k>>8)
		out = append(out, event.NewGenesis("album", map[string][]byte{property.LWWName: ops}, nonce, 1733000000000+int64(k)))
	}
	return out
}

// BenchmarkMessage_DecodeCommit decodes a commit request of 500 new
// entities (each event's id is computed from its content as it decodes).
func BenchmarkMessage_DecodeCommit(b *testing.B) {
	frame, err := transport.Encode(&transport.Message{Request: &transport.Request{ID: 1, Commit: &transport.CommitReq{Events: commitEvents(b, 500)}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := transport.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessage_EncodeCommit encodes the same request.
func BenchmarkMessage_EncodeCommit(b *testing.B) {
	m := &transport.Message{Request: &transport.Request{ID: 1, Commit: &transport.CommitReq{Events: commitEvents(b, 500)}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transport.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLWW_ValidateApply is what a server does with each event's LWW
// operations: validate them against the state, apply them, encode the
// state.
func BenchmarkLWW_ValidateApply(b *testing.B) {
	evs := commitEvents(b, 500)
	b.ReportAllocs()
	for b.Loop() {
		for i := range evs {
			l := property.NewLWW()
			ops := evs[i].Operations[property.LWWName]
			if err := l.Validate(evs[i].ID(), ops); err != nil {
				b.Fatal(err)
			}
			if err := l.Apply(evs[i].ID(), ops); err != nil {
				b.Fatal(err)
			}
			if _, err := l.State(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkMessage_EncodeUpdates encodes one commit's updates of 500
// entities for one subscription.
func BenchmarkMessage_EncodeUpdates(b *testing.B) {
	var items []transport.UpdateItem
	for _, s := range catchUpStates(b, 500) {
		items = append(items, transport.UpdateItem{Tag: transport.TagAdd, State: s})
	}
	m := &transport.Message{Updates: []transport.Update{{Sub: 1, Items: items}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transport.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

// oneEdit returns what one client's commit of one edit carries: an event
// on the entity's head setting one property, with the head the client
// computed and the entity named current.
func oneEdit(b *testing.B) (event.Event, event.Event) {
	g := commitEvents(b, 1)[0]
	l := property.NewLWW()
	l.Set("year", value.Int(1999))
	ops, err := l.TakeOperations()
	if err != nil {
		b.Fatal(err)
	}
	return g, event.New("album", g.Entity, event.NewClock(g.ID()), map[string][]byte{property.LWWName: ops})
}

// BenchmarkMessage_DecodeCommitOne decodes one client's commit request of
// one edit, what a server reads per commit under many clients.
func BenchmarkMessage_DecodeCommitOne(b *testing.B) {
	g, ev := oneEdit(b)
	frame, err := transport.Encode(&transport.Message{Request: &transport.Request{ID: 7, Commit: &transport.CommitReq{
		Events: []event.Event{ev}, Expect: []transport.Known{{Entity: g.Entity, Head: event.NewClock(ev.ID())}}, Current: []id.EntityID{g.Entity}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transport.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessage_DecodeCommitResponse decodes the answer to that commit
// as the client receives it: the entity unchanged.
func BenchmarkMessage_DecodeCommitResponse(b *testing.B) {
	g, _ := oneEdit(b)
	frame, err := transport.Encode(&transport.Message{Response: &transport.Response{ID: 7, Unchanged: []id.EntityID{g.Entity}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transport.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
