package core_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// namingAgent allows everything and names a caller by its context data (a
// string: a local caller's, or a peer's credentials).
type namingAgent struct{ policy.Permissive }

func (namingAgent) Identify(cdata policy.ContextData) string { s, _ := cdata.(string); return s }

// stepClock is a clock that moves only when told.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func entityEventIDs(t testing.TB, n *core.Node, collection string, eid id.EntityID) map[id.EventID]bool {
	t.Helper()
	coll, err := n.Engine().Collection(context.Background(), collection)
	must(t, err)
	evs, err := coll.EntityEvents(context.Background(), eid)
	must(t, err)
	out := map[id.EventID]bool{}
	for _, ev := range evs {
		out[ev.ID()] = true
	}
	return out
}

func TestAttribution_RecordsAuthorPeerAndTimeOfEveryAcceptedEvent(t *testing.T) {
	ctx := context.Background()
	clock := &stepClock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	server := newNodeOn(t, memory.New(), namingAgent{}, core.WithClock(clock.now))
	client := newClient(t)
	linkAs(t, server, client, "bob")

	// A transaction of the server itself: no peer.
	eid := createAlbums(t, server.Context("alice"), album{"Showbiz", "Muse", 1999})[0]
	// A commit a client forwards: the peer's name, by its credentials.
	clock.set(clock.now().Add(time.Minute))
	trx := client.Context(nil).Begin()
	m, err := trx.Edit(ctx, "album", eid)
	must(t, err)
	must(t, m.Set("year", 2000))
	must(t, trx.Commit(ctx))

	got, err := server.Attribution(ctx, eid)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("attributions: %+v", got)
	}
	if got[0].Author != "alice" || got[0].Peer != "" || !got[0].At.Equal(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("local commit: %+v", got[0])
	}
	if got[1].Author != "bob" || got[1].Peer != client.ID().String() || !got[1].At.Equal(time.Date(2026, 12, 2, 10, 1, 0, 0, time.UTC)) {
		t.Fatalf("forwarded commit: %+v", got[1])
	}
	// Exactly the entity's stored events, genesis first.
	evs := entityEventIDs(t, server, "album", eid)
	if len(evs) != 2 || !evs[got[0].Event] || !evs[got[1].Event] || got[0].Event != id.EventID(eid) {
		t.Fatalf("events %v, attributed %v and %v", evs, got[0].Event, got[1].Event)
	}
	// The ephemeral node records nothing.
	if a, err := client.Attribution(ctx, eid); err != nil || len(a) != 0 {
		t.Fatalf("client attribution: %v %v", a, err)
	}
}

func TestAttribution_KeepsTheNewestEventsOfAnEntity(t *testing.T) {
	ctx := context.Background()
	n := newNodeOn(t, memory.New(), namingAgent{}, core.WithAttribution(3))
	c := n.Context("carol")
	eid := createAlbums(t, c, album{"Drones", "Muse", 2015})[0]
	for year := 2016; year < 2020; year++ {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", eid)
		must(t, err)
		must(t, m.Set("year", year))
		must(t, trx.Commit(ctx))
	}
	got, err := n.Attribution(ctx, eid)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("kept %d attributions, want 3", len(got))
	}
	// The newest three: the head is the last, and the genesis is gone.
	st, err := c.Get(ctx, "album", eid)
	must(t, err)
	if !st.Head().Contains(got[2].Event) || got[0].Event == id.EventID(eid) {
		t.Fatalf("kept %v; head %v", got, st.Head())
	}
	evs := entityEventIDs(t, n, "album", eid)
	for _, a := range got {
		if !evs[a.Event] || a.Author != "carol" {
			t.Fatalf("attribution %+v", a)
		}
	}
}

func TestAttribution_OffAndOutOfRange(t *testing.T) {
	ctx := context.Background()
	n := newNodeOn(t, memory.New(), namingAgent{}, core.WithAttribution(0))
	eid := createAlbums(t, n.Context("dave"), album{"Simulation Theory", "Muse", 2018})[0]
	if got, err := n.Attribution(ctx, eid); err != nil || len(got) != 0 {
		t.Fatalf("WithAttribution(0) recorded %v (%v)", got, err)
	}
	for _, keep := range []int{-1, core.MaxAttributionKeep + 1} {
		if _, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithAttribution(keep)); err == nil || !strings.Contains(err.Error(), "WithAttribution") {
			t.Fatalf("WithAttribution(%d): %v", keep, err)
		}
	}
}

func TestAttribution_LongAndInvalidNamesAreCut(t *testing.T) {
	ctx := context.Background()
	n := newNodeOn(t, memory.New(), namingAgent{}, core.WithAttribution(2))
	name := strings.Repeat("é", 100) + "\xff"
	eid := createAlbums(t, n.Context(name), album{"Will of the People", "Muse", 2022})[0]
	got, err := n.Attribution(ctx, eid)
	must(t, err)
	if len(got) != 1 || len(got[0].Author) > 128 || !strings.HasPrefix(name, got[0].Author) || got[0].Author == "" {
		t.Fatalf("author %q (%d bytes)", got[0].Author, len(got[0].Author))
	}
}

// The record is the framework's: no caller reaches it through a Context or
// a peer's request, even under an agent that allows every collection.
func TestAttribution_RecordIsNotReadableOrWritableByCallers(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), namingAgent{}, core.WithClock(time.Now))
	eid := createAlbums(t, server.Context("erin"), album{"Black Holes", "Muse", 2006})[0]
	c := server.Context("erin")
	denied := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, policy.ErrAccessDenied) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, coll := range []string{core.AttributionCollection, core.SystemCollection, core.OutboxCollection} {
		_, err := c.Get(ctx, coll, eid)
		denied("Get "+coll, err)
		_, err = c.Fetch(ctx, coll, "true")
		denied("Fetch "+coll, err)
		_, err = c.Query(ctx, coll, "true")
		denied("Query "+coll, err)
		_, err = c.Watch(ctx, coll, eid)
		denied("Watch "+coll, err)
		_, err = c.Begin().Create(ctx, coll)
		denied("Create "+coll, err)
		_, err = c.Begin().Edit(ctx, coll, eid)
		denied("Edit "+coll, err)
	}

	req := rawSession(t, server, "mallory")
	for name, r := range map[string]*transport.Request{
		"get":        {Get: &transport.GetReq{Collection: core.AttributionCollection, IDs: []id.EntityID{eid}}},
		"get-events": {GetEvents: &transport.GetEventsReq{Collection: core.AttributionCollection, IDs: []id.EventID{id.EventID(eid)}}},
		"fetch":      {Fetch: &transport.FetchReq{Collection: core.AttributionCollection, Query: "true"}},
		"subscribe":  {Subscribe: &transport.SubscribeReq{Sub: 1, Collection: core.AttributionCollection, Query: "true"}},
		"commit": {Commit: &transport.CommitReq{Events: []event.Event{
			event.NewGenesis(core.AttributionCollection, rawLWW(t, 1, "author", "mallory"), make([]byte, event.NonceSize), 1),
		}}},
	} {
		if resp := req(r); resp.Code != transport.CodeDenied {
			t.Fatalf("%s of the record: %+v", name, resp)
		}
	}
	got, err := server.Attribution(ctx, eid)
	must(t, err)
	if len(got) != 1 || got[0].Author != "erin" {
		t.Fatalf("attribution after the attempts: %+v", got)
	}
}

// Servers sharing a store keep one record per entity, each adding its own
// commits, and the record never reaches a live query.
func TestAttribution_SharedStorageServersAddToOneRecord(t *testing.T) {
	ctx := context.Background()
	e := memory.New()
	e2, err := e.Share()
	must(t, err)
	t.Cleanup(func() { e2.Close() })
	a := newNodeOn(t, e, namingAgent{}, core.WithSharedStorage())
	b := newNodeOn(t, e2, namingAgent{}, core.WithSharedStorage())
	lq, err := b.Context("frank").Query(ctx, "album", "true")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t) // Initial
	eid := createAlbums(t, a.Context("grace"), album{"The Resistance", "Muse", 2009})[0]
	if got := kinds(s.next(t)); got != "[Add:The Resistance]" {
		t.Fatal(got)
	}
	trx := b.Context("frank").Begin()
	m, err := trx.Edit(ctx, "album", eid)
	must(t, err)
	must(t, m.Set("year", 2010))
	must(t, trx.Commit(ctx))
	if got := kinds(s.next(t)); got != "[Update:The Resistance]" {
		t.Fatal(got)
	}
	s.none(t, lq)
	for _, n := range []*core.Node{a, b} {
		got, err := n.Attribution(ctx, eid)
		must(t, err)
		if len(got) != 2 || got[0].Author != "grace" || got[1].Author != "frank" {
			t.Fatalf("attribution: %+v", got)
		}
	}
}

// A record the node cannot decode is replaced by the next commit, which
// still succeeds.
func TestAttribution_DamagedRecordIsStartedAnew(t *testing.T) {
	ctx := context.Background()
	e := memory.New()
	n := newNodeOn(t, e, namingAgent{})
	c := n.Context("heidi")
	eid := createAlbums(t, c, album{"Hullabaloo", "Muse", 2002})[0]
	coll, err := e.Collection(ctx, core.AttributionCollection)
	must(t, err)
	st, err := coll.GetState(ctx, eid)
	must(t, err)
	bad := entity.State{ID: eid, Collection: core.AttributionCollection, Head: event.NewClock(id.EventID{1}), Backends: entity.BackendsOf(map[string][]byte{"attribution": {0xff, 0x00}})}
	must(t, e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: bad, Expected: st.Head}}}))
	if _, err := n.Attribution(ctx, eid); err == nil {
		t.Fatal("a damaged record read without error")
	}
	trx := c.Begin()
	m, err := trx.Edit(ctx, "album", eid)
	must(t, err)
	must(t, m.Set("year", 2003))
	must(t, trx.Commit(ctx))
	got, err := n.Attribution(ctx, eid)
	must(t, err)
	if len(got) != 1 || got[0].Author != "heidi" {
		t.Fatalf("attribution: %+v", got)
	}
}

// BenchmarkCommit_Attribution is BenchmarkCommit_Memory's commit with no
// attribution recorded (keep=0) and with the default record, full (each
// commit of the one entity rewrites its newest DefaultAttributionKeep
// entries).
func BenchmarkCommit_Attribution(b *testing.B) {
	for _, keep := range []int{0, core.DefaultAttributionKeep} {
		b.Run("keep="+strconv.Itoa(keep), func(b *testing.B) {
			ctx := context.Background()
			n, err := core.NewNode(ctx, memory.New(), namingAgent{}, core.WithAttribution(keep))
			must(b, err)
			defer n.Close()
			c := n.Context("bench-user")
			eid := createAlbums(b, c, album{"x", "y", 1})[0]
			edit := func(i int) {
				trx := c.Begin()
				m, err := trx.Edit(ctx, "album", eid)
				if err != nil {
					b.Fatal(err)
				}
				m.Set("year", i)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			for i := range core.DefaultAttributionKeep {
				edit(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				edit(i)
			}
		})
	}
}
