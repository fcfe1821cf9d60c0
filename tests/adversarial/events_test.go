package adversarial_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Finding 5: a commit whose first event for an entity was already stored,
// followed by new events for the same entity, failed as a conflict after 11
// attempts (the entity was written twice in one batch).
func TestFinding_StoredFirstBatch_CommitSucceeds(t *testing.T) {
	s := startServer(t)
	r := s.rawAs(t, s.token(t, "alice"))
	gen := genesis(t, "todo", map[string]any{"owner": "alice", "title": "v0"})
	eid := gen.Entity
	r.do(commit(gen)).ok(t, "the genesis")
	e1 := edit(t, "todo", eid, event.NewClock(gen.ID()), 2, map[string]any{"title": "v1"})
	e2 := edit(t, "todo", eid, event.NewClock(e1.ID()), 3, map[string]any{"title": "v2"})

	g := s.guard(t)
	g.allow(eid)
	resp := r.do(commit(gen, e1, e2)).ok(t, "a batch whose first event is already stored")
	st := s.stored(t, "todo", eid)
	if !st.Head.Equal(event.NewClock(e2.ID())) {
		t.Fatalf("stored head %s, want the batch's last event %s", st.Head, e2.ID())
	}
	if title, _ := st.Values.Get("title").AsString(); title != "v2" {
		t.Fatalf("stored title %q, want v2", title)
	}
	if len(resp.States) != 1 || !resp.States[0].Head.Equal(st.Head) {
		t.Fatalf("the commit answered %d states, want the entity's new state", len(resp.States))
	}
	// The whole batch again, and a batch of only stored events: no-ops.
	r.do(commit(gen, e1, e2)).ok(t, "the same batch again")
	r.do(commit(gen, e1)).ok(t, "a batch of stored events")
	if !s.stored(t, "todo", eid).Head.Equal(st.Head) {
		t.Fatal("replaying stored events moved the head")
	}
	g.done(t)
}

// Finding 7: reads naming collections that did not exist created them (a
// file with a bucket per name any client made up).
func TestFinding_Reads_NeverCreateCollections(t *testing.T) {
	const each = 500 // × 4 kinds of read = 2,000
	s := startServer(t)
	ctx := deadline(t)
	before, err := s.Engine.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := s.guard(t)
	// An admin may read every collection: nothing but the node stands
	// between these names and the engine.
	r := s.rawAs(t, s.token(t, "root", "admin"))
	for i := range each {
		name := func(kind string) string { return fmt.Sprintf("ghost_%s_%04d", kind, i) }
		for _, req := range []*transport.Request{
			{Get: &transport.GetReq{Collection: name("get"), IDs: randomIDs(1)}},
			{Fetch: &transport.FetchReq{Collection: name("fetch"), Query: "true"}},
			{GetEvents: &transport.GetEventsReq{Collection: name("events"), IDs: randomEventIDs(1)}},
			{Subscribe: &transport.SubscribeReq{Sub: uint64(i + 1), Collection: name("subscribe"), Query: "true"}},
		} {
			resp := r.do(req).ok(t, "a read of an unknown collection")
			if len(resp.States)+len(resp.Events) != 0 {
				t.Fatalf("a read of an unknown collection found %d states and %d events", len(resp.States), len(resp.Events))
			}
		}
		sub := uint64(i + 1)
		r.do(&transport.Request{Unsubscribe: &sub}).ok(t, "unsubscribe")
	}
	admin := s.dial(t, "root", "admin")
	for i := range 10 {
		name := fmt.Sprintf("ghost_api_%d", i)
		if _, err := admin.ctx().Fetch(ctx, name, "true"); err != nil {
			t.Fatalf("client fetch of %q: %v", name, err)
		}
		if _, err := admin.ctx().Get(ctx, name, randomIDs(1)[0]); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("client get in %q: %v, want not found", name, err)
		}
		lq, err := admin.ctx().Query(ctx, name, "true")
		if err != nil {
			t.Fatalf("client query of %q: %v", name, err)
		}
		lq.Close()
	}
	after, err := s.Engine.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		var made []string
		for _, n := range after {
			if !slices.Contains(before, n) {
				made = append(made, n)
			}
		}
		if len(made) > 5 {
			made = append(made[:5], fmt.Sprintf("… (%d in all)", len(made)))
		}
		t.Fatalf("reads created collections: %s", strings.Join(made, ", "))
	}
	if _, err := s.Engine.LookupCollection(ctx, "ghost_fetch_0000"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("LookupCollection of a name only read: %v, want not found", err)
	}
	g.done(t)
}

// cborFrame encodes a hand-built message (maps keyed by the protocol's
// integer keys), for what transport.Encode cannot express.
func cborFrame(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cborEnc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawEvent is an event as the wire carries it (core/event's field keys).
func rawEvent(collection string, entity []byte, parents [][]byte, ops map[string][]byte) map[uint64]any {
	m := map[uint64]any{1: collection, 4: ops}
	if entity != nil {
		m[2] = entity
	}
	if parents != nil {
		m[3] = parents
	}
	return m
}

func rawRequest(reqID uint64, key uint64, body any) map[uint64]any {
	return map[uint64]any{2: map[uint64]any{1: reqID, key: body}}
}

func bytesOf(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Finding 8: ids of the wrong length were truncated or zero-padded into
// 32 bytes, and property names the Go API refuses came in over the wire.
func TestFinding_WireValidation(t *testing.T) {
	s := startServer(t)
	target := mustCreate(t, s.system(), "alice", "target", nil)
	st := s.stored(t, "todo", target)
	head := st.Head
	h := lwwHeight(t, st)
	ops := lwwPayload(t, h+1, map[string]any{"title": "changed"})
	tok := s.token(t, "alice")

	t.Run("ids of the wrong length", func(t *testing.T) {
		cases := []struct {
			name  string
			frame []byte
		}{
			{"31-byte entity id in a get", cborFrame(t, rawRequest(7, 3, map[uint64]any{1: "todo", 2: [][]byte{target[:31]}}))},
			{"33-byte entity id in a get", cborFrame(t, rawRequest(7, 3, map[uint64]any{1: "todo", 2: [][]byte{append(target[:], 0)}}))},
			{"33-byte parent in an event", cborFrame(t, rawRequest(7, 2, map[uint64]any{1: []any{rawEvent("todo", target[:], [][]byte{append(head[0][:], 0)}, ops)}}))},
			{"31-byte parent in an event", cborFrame(t, rawRequest(7, 2, map[uint64]any{1: []any{rawEvent("todo", target[:], [][]byte{head[0][:31]}, ops)}}))},
			{"33-byte entity id in an event", cborFrame(t, rawRequest(7, 2, map[uint64]any{1: []any{rawEvent("todo", append(target[:], 0), [][]byte{head[0][:]}, ops)}}))},
			{"31-byte event id in get-events", cborFrame(t, rawRequest(7, 4, map[uint64]any{1: "todo", 2: [][]byte{head[0][:31]}}))},
			{"33-byte known entity in a fetch", cborFrame(t, rawRequest(7, 5, map[uint64]any{1: "todo", 2: "true", 3: []any{map[uint64]any{1: append(target[:], 0), 2: [][]byte{head[0][:]}}}}))},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				g := s.guard(t)
				r := s.rawAs(t, tok)
				o := r.doBytes(c.frame, 7)
				o.refused(t, c.name, transport.CodeProtocol, transport.CodeInvalid)
				if o.fault != nil {
					r.disconnected(t, c.name)
				}
				g.done(t)
			})
		}
	})

	t.Run("property names in an LWW operation", func(t *testing.T) {
		for _, name := range []string{"", "nul\x00inside", strings.Repeat("p", 64<<10), "_reserved"} {
			t.Run(fmt.Sprintf("%.20q", name), func(t *testing.T) {
				// The Go API refuses them already.
				if err := editTodo(s.system(), target, map[string]any{name: "x"}); !errors.Is(err, core.ErrInvalidName) {
					t.Fatalf("Mut.Set(%.20q): %v, want ErrInvalidName", name, err)
				}
				g := s.guard(t)
				r := s.rawAs(t, tok)
				o := r.do(commit(edit(t, "todo", target, head, h+1, map[string]any{name: "x"})))
				o.refused(t, fmt.Sprintf("property name %.20q over the wire", name), transport.CodeInvalid, transport.CodeProtocol)
				g.done(t)
			})
		}
	})

	t.Run("invalid collection names", func(t *testing.T) {
		admin := s.token(t, "root", "admin") // may use any collection: only the name is wrong
		for _, name := range []string{"", "nul\x00inside", strings.Repeat("c", 300)} {
			t.Run(fmt.Sprintf("%.20q", name), func(t *testing.T) {
				trx := s.system().Begin()
				if _, err := trx.Create(context.Background(), name); !errors.Is(err, core.ErrInvalidName) {
					t.Fatalf("Create(%.20q): %v, want ErrInvalidName", name, err)
				}
				for _, req := range []*transport.Request{
					{Get: &transport.GetReq{Collection: name, IDs: []id.EntityID{target}}},
					{Fetch: &transport.FetchReq{Collection: name, Query: "true"}},
					{GetEvents: &transport.GetEventsReq{Collection: name, IDs: randomEventIDs(1)}},
					{Subscribe: &transport.SubscribeReq{Sub: 1, Collection: name, Query: "true"}},
					commit(genesis(t, name, map[string]any{"owner": "root"})),
				} {
					t.Run(kind(req), func(t *testing.T) {
						g := s.guard(t)
						r := s.rawAs(t, admin)
						o := r.do(req)
						o.refused(t, fmt.Sprintf("%s naming collection %.20q", kind(req), name), transport.CodeInvalid, transport.CodeProtocol)
						g.done(t)
					})
				}
			})
		}
	})
}

func kind(r *transport.Request) string {
	switch {
	case r.Commit != nil:
		return "commit"
	case r.Get != nil:
		return "get"
	case r.GetEvents != nil:
		return "get-events"
	case r.Fetch != nil:
		return "fetch"
	case r.Subscribe != nil:
		return "subscribe"
	}
	return "request"
}

// Finding 9: concurrent events on one entity widened its head without
// bound, and an event could name any number of parents.
func TestFinding_HeadWidth_IsBounded(t *testing.T) {
	const concurrent = 40
	s := startServer(t)
	tok := s.token(t, "alice")
	t.Run("one commit each", func(t *testing.T) {
		eid := mustCreate(t, s.system(), "alice", "contended", nil)
		st := s.stored(t, "todo", eid)
		r := s.rawAs(t, tok)
		for i := range concurrent {
			ev := edit(t, "todo", eid, st.Head, lwwHeight(t, st)+1, map[string]any{"title": fmt.Sprintf("concurrent %d", i)})
			r.do(commit(ev)).ok(t, fmt.Sprintf("concurrent event %d", i))
		}
		if w := len(s.stored(t, "todo", eid).Head); w > s.Limits.HeadWidth {
			t.Fatalf("after %d concurrent events the stored head is %d wide, limit %d", concurrent, w, s.Limits.HeadWidth)
		}
	})
	t.Run("one commit of all", func(t *testing.T) {
		eid := mustCreate(t, s.system(), "alice", "contended at once", nil)
		st := s.stored(t, "todo", eid)
		var evs []event.Event
		for i := range concurrent {
			evs = append(evs, edit(t, "todo", eid, st.Head, lwwHeight(t, st)+1, map[string]any{"title": fmt.Sprintf("concurrent %d", i)}))
		}
		r := s.rawAs(t, tok)
		r.do(commit(evs...)).ok(t, "a batch of concurrent events")
		if w := len(s.stored(t, "todo", eid).Head); w > s.Limits.HeadWidth {
			t.Fatalf("after a batch of %d concurrent events the stored head is %d wide, limit %d", concurrent, w, s.Limits.HeadWidth)
		}
	})
	t.Run("too many parents", func(t *testing.T) {
		eid := mustCreate(t, s.system(), "alice", "many parents", nil)
		st := s.stored(t, "todo", eid)
		parents := event.NewClock(append(randomEventIDs(s.Limits.MaxParents), st.Head...)...)
		g := s.guard(t)
		r := s.rawAs(t, tok)
		o := r.do(commit(edit(t, "todo", eid, parents, lwwHeight(t, st)+1, map[string]any{"title": "wide"})))
		o.refused(t, fmt.Sprintf("an event of %d parents (limit %d)", len(parents), s.Limits.MaxParents), transport.CodeLimit)
		if !strings.Contains(o.message(), "max-parents") {
			t.Fatalf("refusal %q does not name max-parents", o.message())
		}
		r.alive(t, "after the refusal")
		g.done(t)
	})
	s.bystanders(t).check(t)
}

// Finding 10: an event was judged by the entity's current state, so a todo
// that changed owner showed the new owner its whole history and hid the
// new owner's events from no one who could read the old.
func TestFinding_EventRead_JudgedByTheStateTheEventProduced(t *testing.T) {
	s := startServer(t, withRules(testdataRules(t, "handoff.yaml")))
	alice, bob := s.dial(t, "alice"), s.dial(t, "bob")
	eid := mustCreate(t, alice.ctx(), "alice", "alice's draft", nil)
	mustEdit(t, alice.ctx(), eid, map[string]any{"title": "alice's final"})
	mustEdit(t, alice.ctx(), eid, map[string]any{"owner": "bob"}) // the handoff: bob's from here
	mustEdit(t, bob.ctx(), eid, map[string]any{"title": "bob's"})
	evs := s.events(t, "todo", eid)
	if len(evs) != 4 {
		t.Fatalf("%d stored events, want 4", len(evs))
	}
	var all []id.EventID
	for _, e := range evs {
		all = append(all, e.ID())
	}
	aliceEra, bobEra := all[:2], all[2:]

	g := s.guard(t)
	for _, c := range []struct {
		user string
		want []id.EventID
	}{{"alice", aliceEra}, {"bob", bobEra}} {
		r := s.rawAs(t, s.token(t, c.user))
		resp := r.do(&transport.Request{GetEvents: &transport.GetEventsReq{Collection: "todo", IDs: all}}).ok(t, c.user+"'s get-events")
		var got []id.EventID
		for _, e := range resp.Events {
			got = append(got, e.ID())
		}
		slices.SortFunc(got, func(a, b id.EventID) int { return a.Compare(b) })
		want := slices.Clone(c.want)
		slices.SortFunc(want, func(a, b id.EventID) int { return a.Compare(b) })
		if !slices.Equal(got, want) {
			t.Errorf("%s received events %v, want only those of %s's era %v", c.user, got, c.user, want)
		}
	}
	g.done(t)
}
