package storagetest

import (
	"context"
	"errors"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

func lookupCases() []Case {
	return []Case{
		{"Lookup/UnknownIsNotFound", testLookupUnknown},
		{"Lookup/FindsWrittenCollection", testLookupWritten},
	}
}

func repairCases() []Case {
	return []Case{
		{"Repair/CleanCollectionHasNoBadRows", testRepairClean},
		{"Repair/RemoveRow", testRemoveRow},
	}
}

// looker returns the engine as a storage.CollectionLooker, or skips the case
// when the harness does not declare Capabilities.Lookup.
func looker(t T, h Harness) storage.CollectionLooker {
	t.Helper()
	if !h.Capabilities().Lookup {
		t.Skipf("the harness does not declare Capabilities.Lookup")
	}
	lk, ok := h.Engine().(storage.CollectionLooker)
	if !ok {
		t.Fatalf("the harness declares Capabilities.Lookup but %T does not implement storage.CollectionLooker", h.Engine())
	}
	return lk
}

// repairer returns the engine as a storage.Repairer, or skips the case when
// the harness does not declare Capabilities.Repair.
func repairer(t T, h Harness) storage.Repairer {
	t.Helper()
	if !h.Capabilities().Repair {
		t.Skipf("the harness does not declare Capabilities.Repair")
	}
	r, ok := h.Engine().(storage.Repairer)
	if !ok {
		t.Fatalf("the harness declares Capabilities.Repair but %T does not implement storage.Repairer", h.Engine())
	}
	return r
}

func testLookupUnknown(ctx context.Context, t T, h Harness) {
	lk := looker(t, h)
	name := uniqueName("unknown")
	for i := range 2 {
		// The second lookup sees whatever the first one left behind: nothing.
		c, err := lk.LookupCollection(ctx, name)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LookupCollection(%q) of an unknown name, call %d = (%v, %v), want an error wrapping storage.ErrNotFound", name, i+1, c, err)
		}
	}
}

func testLookupWritten(ctx context.Context, t T, h Harness) {
	lk := looker(t, h)
	e := h.Engine()
	// Opened with Collection, then written.
	opened, err := e.Collection(ctx, uniqueName("opened"))
	if err != nil {
		t.Fatalf("Collection: %v", err)
	}
	a := genesis(opened.Name(), "a")
	mustApply(ctx, t, e, create(a, map[string]value.Value{"n": value.Int(1)}))
	// Written by Apply alone.
	applied := uniqueName("applied")
	b := genesis(applied, "b")
	mustApply(ctx, t, e, create(b, map[string]value.Value{"n": value.Int(2)}))

	for _, w := range []struct {
		name string
		ev   event.Event
		n    int64
	}{{opened.Name(), a, 1}, {applied, b, 2}} {
		c, err := lk.LookupCollection(ctx, w.name)
		if err != nil {
			t.Fatalf("LookupCollection(%q) of a written collection: %v", w.name, err)
		}
		if c.Name() != w.name {
			t.Errorf("LookupCollection(%q).Name() = %q", w.name, c.Name())
		}
		checkState(ctx, t, c, stateAt(map[string]value.Value{"n": value.Int(w.n)}, w.ev))
		fetchExpect(ctx, t, c, "true", nil, []id.EntityID{w.ev.Entity})
	}
}

func testRepairClean(ctx context.Context, t T, h Harness) {
	r := repairer(t, h)
	e := h.Engine()
	c := openCollection(ctx, t, e, "clean")
	g := genesis(c.Name(), "a")
	mustApply(ctx, t, e, &storage.Batch{
		Events: []event.Event{g, child(g, "1")},
		States: []storage.StateWrite{{State: stateAt(map[string]value.Value{"n": value.Int(1)}, child(g, "1"))}},
	})
	err := r.BadRows(ctx, c.Name(), func(b storage.BadRow) error {
		t.Errorf("BadRows of a clean collection lists %s %x: %v", b.Kind, b.Key, b.Err)
		return nil
	})
	if err != nil {
		t.Errorf("BadRows of a clean collection: %v", err)
	}
	err = r.BadRows(ctx, uniqueName("nosuch"), func(storage.BadRow) error { return nil })
	wantErrIs(t, "BadRows of an unknown collection", err, storage.ErrNotFound)
}

// testRemoveRow removes rows that decode: RemoveRow must work on every row,
// and leave no index entry behind that a later fetch would trip on.
func testRemoveRow(ctx context.Context, t T, h Harness) {
	r := repairer(t, h)
	e := h.Engine()
	c := openCollection(ctx, t, e, "remove")
	if ix, ok := e.(storage.Indexer); ok && h.Capabilities().Indexes {
		if err := ix.DeclareIndex(ctx, storage.Index{Collection: c.Name(), Property: "n"}); err != nil {
			t.Fatalf("DeclareIndex: %v", err)
		}
	}
	a, b := genesis(c.Name(), "a"), genesis(c.Name(), "b")
	a1 := child(a, "1")
	mustApply(ctx, t, e, &storage.Batch{
		Events: []event.Event{a, a1, b},
		States: []storage.StateWrite{
			{State: stateAt(map[string]value.Value{"n": value.Int(1)}, a1)},
			{State: stateAt(map[string]value.Value{"n": value.Int(2)}, b)},
		},
	})

	if err := r.RemoveRow(ctx, c.Name(), "state", a.Entity[:]); err != nil {
		t.Fatalf("RemoveRow(state a): %v", err)
	}
	wantNotFound(ctx, t, c, a.Entity)
	fetchExpect(ctx, t, c, "true", nil, []id.EntityID{b.Entity})
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, []id.EntityID{b.Entity})
	fetchExpect(ctx, t, c, "n = 1", nil, nil)
	err := r.RemoveRow(ctx, c.Name(), "state", a.Entity[:])
	wantErrIs(t, "RemoveRow of a state already removed", err, storage.ErrNotFound)

	// The entity's events stay until removed one by one.
	evs, err := c.EntityEvents(ctx, a.Entity)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	checkEventSet(t, "EntityEvents after removing the state", evs, a, a1)
	a1ID := a1.ID()
	if err := r.RemoveRow(ctx, c.Name(), "event", a1ID[:]); err != nil {
		t.Fatalf("RemoveRow(event a1): %v", err)
	}
	evs, err = c.GetEvents(ctx, []id.EventID{a.ID(), a1ID})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	checkEventSet(t, "GetEvents after removing an event", evs, a)
	evs, err = c.EntityEvents(ctx, a.Entity)
	if err != nil {
		t.Fatalf("EntityEvents after removing an event: %v", err)
	}
	checkEventSet(t, "EntityEvents after removing an event", evs, a)
	err = r.RemoveRow(ctx, c.Name(), "event", a1ID[:])
	wantErrIs(t, "RemoveRow of an event already removed", err, storage.ErrNotFound)

	err = r.RemoveRow(ctx, uniqueName("nosuch"), "state", a.Entity[:])
	wantErrIs(t, "RemoveRow in an unknown collection", err, storage.ErrNotFound)
	err = r.RemoveRow(ctx, c.Name(), "index", a.Entity[:])
	wantErrIs(t, `RemoveRow of kind "index"`, err, storage.ErrInvalid)

	// The removed entity can be created again, and b never moved.
	mustApply(ctx, t, e, create(a, map[string]value.Value{"n": value.Int(3)}))
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, []id.EntityID{b.Entity, a.Entity})
	checkState(ctx, t, c, stateAt(map[string]value.Value{"n": value.Int(2)}, b))
}
