package core_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// eventLookupEngine counts the event lookups (GetEvents) made through its
// collections.
type eventLookupEngine struct {
	*memory.Engine
	mu      sync.Mutex
	lookups int
}

func (e *eventLookupEngine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	c, err := e.Engine.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	return &eventLookupCollection{Collection: c, e: e}, nil
}

func (e *eventLookupEngine) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lookups
}

type eventLookupCollection struct {
	storage.Collection
	e *eventLookupEngine
}

func (c *eventLookupCollection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	c.e.mu.Lock()
	c.e.lookups++
	c.e.mu.Unlock()
	return c.Collection.GetEvents(ctx, ids)
}

// An edit made on the entity's current head — the common commit — asks the
// engine for no event (on a networked engine each lookup is a round trip);
// an event that is not made on the head is still looked up, so one already
// stored is not applied twice.
func TestCommit_AnEditOnTheHeadLooksUpNoEvent(t *testing.T) {
	ctx := context.Background()
	eng := &eventLookupEngine{Engine: memory.New()}
	n := newNodeOn(t, eng, &ownerAgent{}, core.WithAttribution(0))
	c := n.Context("alice")
	trx := c.Begin()
	m, err := trx.Create(ctx, "todo")
	must(t, err)
	must(t, m.Set("owner", "alice"))
	must(t, trx.Commit(ctx))
	eid := m.ID()
	before := eng.count()
	for i := range 5 {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "todo", eid)
		must(t, err)
		must(t, m.Set("title", string(rune('a'+i))))
		must(t, trx.Commit(ctx))
	}
	if got := eng.count() - before; got != 0 {
		t.Fatalf("5 edits on the head made %d event lookups, want 0", got)
	}

	// The stored events again, as a peer that resends them would: each is
	// not on the current head, is looked up, found stored and skipped.
	coll, err := eng.Engine.Collection(ctx, "todo")
	must(t, err)
	evs, err := coll.EntityEvents(ctx, eid)
	must(t, err)
	st, err := c.Get(ctx, "todo", eid)
	must(t, err)
	head := st.Head()
	before = eng.count()
	must(t, core.ApplyEventsForTest(ctx, n, evs))
	if eng.count() == before {
		t.Fatal("events not made on the head were applied without a lookup")
	}
	st, err = c.Get(ctx, "todo", eid)
	must(t, err)
	if !st.Head().Equal(head) {
		t.Fatalf("resending stored events moved the head from %s to %s", head, st.Head())
	}
}
