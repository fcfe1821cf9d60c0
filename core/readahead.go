package core

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// A commit of thousands of entities (a bulk load) looks each of them up
// before it writes: its stored state, whether its event is stored already,
// its attribution record. For a batch that large, those lookups are read
// ahead in one step per collection — the states where the engine reads
// many at once (storage.ManyReader: a read transaction or a lock per lookup
// is what it saves), the events with one GetEvents —
// rather than one read (one lock, one read transaction) each. What is read ahead
// is what a lookup at that moment would have read: storage's head checks
// decide, as ever, whether anything changed before the write.

// readAheadMin is the fewest entities of a batch whose lookups are read
// ahead; a smaller commit reads each as it goes.
const readAheadMin = 32

// readAhead is what a batch's lookups read in advance; a nil *readAhead,
// or a collection it did not read, looks up one entity at a time.
type readAhead struct {
	states map[string]map[id.EntityID]entity.State // the stored ones, by collection
	events map[string]map[id.EventID]bool          // the stored ones, by collection
}

// readAheadEvents reads ahead the stored states of the entities of evs
// and which of evs are stored already (nil for a small batch).
func (n *Node) readAheadEvents(ctx context.Context, evs []event.Event) (*readAhead, error) {
	if len(evs) < readAheadMin {
		return nil, nil
	}
	a := &readAhead{states: map[string]map[id.EntityID]entity.State{}, events: map[string]map[id.EventID]bool{}}
	type ofColl struct {
		coll storage.Collection
		many bool // a storage.ManyReader: its states are read ahead too
		ids  []id.EntityID
		evs  []id.EventID
		seen map[id.EntityID]bool
	}
	var names []string
	by := map[string]*ofColl{}
	for i := range evs {
		ev := &evs[i]
		c := by[ev.Collection]
		if c == nil {
			coll, err := n.readCollection(ctx, ev.Collection)
			if err != nil {
				return nil, err
			}
			c = &ofColl{coll: coll, evs: make([]id.EventID, 0, len(evs))}
			if _, c.many = coll.(storage.ManyReader); c.many {
				c.seen = make(map[id.EntityID]bool, len(evs))
			}
			by[ev.Collection] = c
			names = append(names, ev.Collection)
		}
		if c.many && !c.seen[ev.Entity] {
			c.seen[ev.Entity] = true
			c.ids = append(c.ids, ev.Entity)
		}
		c.evs = append(c.evs, ev.ID())
	}
	for _, name := range names {
		c := by[name]
		if c.many {
			m, _, err := readStatesAhead(ctx, c.coll, c.ids)
			if err != nil {
				return nil, fmt.Errorf("ankurah: commit: load: %w", err)
			}
			a.states[name] = m
		}
		got, err := c.coll.GetEvents(ctx, c.evs)
		if err != nil {
			return nil, fmt.Errorf("ankurah: commit: look up events: %w", err)
		}
		stored := make(map[id.EventID]bool, len(got))
		for i := range got {
			stored[got[i].ID()] = true
		}
		a.events[name] = stored
	}
	return a, nil
}

// readStatesAhead reads the stored states of ids in one step when coll can
// (ok false when it cannot: look each up with getStored).
func readStatesAhead(ctx context.Context, coll storage.Collection, ids []id.EntityID) (map[id.EntityID]entity.State, bool, error) {
	mr, ok := coll.(storage.ManyReader)
	if !ok {
		return nil, false, nil
	}
	sts, err := mr.GetStatesShared(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	// Sized for the states found: a fresh client's catch-up finds none.
	found := 0
	for i := range sts {
		if !sts[i].ID.IsZero() {
			found++
		}
	}
	m := make(map[id.EntityID]entity.State, found)
	for i := range sts {
		if !sts[i].ID.IsZero() {
			m[ids[i]] = sts[i]
		}
	}
	return m, true, nil
}

// state is getStored, from what was read ahead when it can. An entity the
// read ahead did not find is storage.ErrNotFound itself, not an error
// naming it (one allocation for each entity of a catch-up): every caller
// only tells it apart with errors.Is.
func (a *readAhead) state(ctx context.Context, coll storage.Collection, name string, eid id.EntityID) (entity.State, error) {
	if a != nil {
		if m, ok := a.states[name]; ok {
			if st, ok := m[eid]; ok {
				return st, nil
			}
			return entity.State{}, storage.ErrNotFound
		}
	}
	return getStored(ctx, coll, eid)
}

// eventStored reports whether an event is stored, from what was read ahead
// when it can.
func (a *readAhead) eventStored(ctx context.Context, coll storage.Collection, name string, evID id.EventID) (bool, error) {
	if a != nil {
		if m, ok := a.events[name]; ok {
			return m[evID], nil
		}
	}
	got, err := coll.GetEvents(ctx, []id.EventID{evID})
	return len(got) > 0, err
}

// readAheadStates reads ahead the stored states of the entities of states
// (nil for a few).
func (n *Node) readAheadStates(ctx context.Context, states []entity.State) (*readAhead, error) {
	if len(states) < readAheadMin {
		return nil, nil
	}
	var names []string
	by := map[string][]id.EntityID{}
	for i := range states {
		name := states[i].Collection
		if _, ok := by[name]; !ok {
			names = append(names, name)
			by[name] = make([]id.EntityID, 0, len(states))
		}
		by[name] = append(by[name], states[i].ID)
	}
	a := &readAhead{states: make(map[string]map[id.EntityID]entity.State, len(names))}
	for _, name := range names {
		coll, err := n.readCollection(ctx, name)
		if err != nil {
			return nil, err
		}
		if m, ok, err := readStatesAhead(ctx, coll, by[name]); err != nil {
			return nil, err
		} else if ok {
			a.states[name] = m
		}
	}
	return a, nil
}
