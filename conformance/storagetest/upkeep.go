package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// Cases that hold engines to the details a key-value engine gets wrong:
// index upkeep, batch semantics, span order, long keys, key prefixes,
// clearing, format versions and write races. Each was written to catch a
// deliberate bug of core/storage/kv's catalogue (see TestMutants).
func upkeepCases() []Case {
	return []Case{
		{"Apply/SameEntityTwiceInABatch", testSameEntityTwice},
		{"Index/UpdateLeavesNoStaleEntry", testNoStaleEntry},
		{"Index/BackfillsEveryState", testBackfillMany},
		{"Index/ReverseOverSeveralSpans", testReverseSpans},
		{"Index/LongValues", testLongIndexedValues},
		{"Collection/NamesPrefixingEachOther", testPrefixNames},
		{"Concurrent/OneWinnerPerHead", testOneWinnerPerHead},
		{"Engine/Clear", testClear},
		{"Engine/ClearKeeping", testClearKeeping},
		{"Engine/FormatVersion", testFormatVersion},
	}
}

// indexIfAble declares indexes when the harness can, and goes on without
// them otherwise: these cases check answers, which indexes must not change.
func indexIfAble(ctx context.Context, t T, h Harness, collection string, props ...string) {
	t.Helper()
	if h.Capabilities().Indexes {
		declareIndexes(ctx, t, h, collection, props...)
	}
}

func testSameEntityTwice(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "twice")
	indexIfAble(ctx, t, h, c.Name(), "n")
	g := genesis(c.Name(), "a")
	up := child(g, "second")
	first, second := stateAt(map[string]value.Value{"n": value.Int(1)}, g), stateAt(map[string]value.Value{"n": value.Int(2)}, up)
	// Created and updated in one batch: the second write expects the first's head.
	mustApply(ctx, t, e, &storage.Batch{
		Events: []event.Event{g, up},
		States: []storage.StateWrite{{State: first}, {State: second, Expected: first.Head}},
	})
	checkState(ctx, t, c, second)
	fetchExpect(ctx, t, c, "n = 1", nil, nil)
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, []id.EntityID{g.Entity})
	checkEventSet(t, "EntityEvents", mustEntityEvents(ctx, t, c, g.Entity), g, up)

	// A second write that expects the stored head, not the batch's first write, conflicts.
	up2, up3 := child(up, "third"), child(up, "fourth")
	third, fourth := stateAt(map[string]value.Value{"n": value.Int(3)}, up2), stateAt(map[string]value.Value{"n": value.Int(4)}, up3)
	err := e.Apply(ctx, &storage.Batch{
		Events: []event.Event{up2, up3},
		States: []storage.StateWrite{{State: third, Expected: second.Head}, {State: fourth, Expected: second.Head}},
	})
	wantErrIs(t, "a batch writing one entity twice from the same stored head", err, storage.ErrConflict)
	checkState(ctx, t, c, second)
}

func mustEntityEvents(ctx context.Context, t T, c storage.Collection, eid id.EntityID) []event.Event {
	t.Helper()
	evs, err := c.EntityEvents(ctx, eid)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	return evs
}

func testNoStaleEntry(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "stale")
	indexIfAble(ctx, t, h, c.Name(), "n", "s")
	g, other := genesis(c.Name(), "moving"), genesis(c.Name(), "still")
	s0 := stateAt(map[string]value.Value{"n": value.Int(3), "s": value.String("b")}, g)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{g, other}, States: []storage.StateWrite{
		{State: s0}, {State: stateAt(map[string]value.Value{"n": value.Int(50), "s": value.String("m")}, other)},
	}})
	cur := s0
	for i, v := range []int64{100, 7, 7, 200} {
		ev := child(event.Event{Collection: g.Collection, Entity: g.Entity}, fmt.Sprint("move ", i))
		ev.Parent = cur.Head
		next := stateAt(map[string]value.Value{"n": value.Int(v), "s": value.String(fmt.Sprint("s", v))}, ev)
		mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: next, Expected: cur.Head}}})
		cur = next
	}
	// The entity appears once, at its last values, whatever the scan covers.
	both := sortedIDs(g.Entity, other.Entity)
	fetchExpect(ctx, t, c, "n >= 0", nil, both)
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, []id.EntityID{other.Entity, g.Entity})
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n DESC LIMIT 1", nil, []id.EntityID{g.Entity})
	fetchExpect(ctx, t, c, "n IN (3, 7, 100, 200)", nil, []id.EntityID{g.Entity})
	fetchExpect(ctx, t, c, "s >= 'a' ORDER BY s", nil, []id.EntityID{other.Entity, g.Entity})
	fetchExpect(ctx, t, c, "true ORDER BY s DESC", nil, []id.EntityID{g.Entity, other.Entity})
}

func testBackfillMany(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "backfill")
	const n = 1500 // more than one batch of any engine's backfill
	ids := make([]id.EntityID, n)
	for start := 0; start < n; start += 500 {
		b := &storage.Batch{}
		for i := start; i < start+500; i++ {
			g := genesis(c.Name(), fmt.Sprint(i))
			ids[i] = g.Entity
			b.Events = append(b.Events, g)
			b.States = append(b.States, storage.StateWrite{State: stateAt(map[string]value.Value{"n": value.Int(int64(i))}, g)})
		}
		mustApply(ctx, t, e, b)
	}
	declareIndexes(ctx, t, h, c.Name(), "n")
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, ids)
	fetchExpect(ctx, t, c, "true ORDER BY n DESC LIMIT 3", nil, reversed(ids)[:3])
	for _, i := range []int{0, 255, 256, 257, 700, 1499} {
		fetchExpect(ctx, t, c, "n = ?", []any{i}, ids[i:i+1])
	}
}

func testReverseSpans(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "spans")
	indexIfAble(ctx, t, h, c.Name(), "n")
	b := &storage.Batch{}
	byN := map[int64][]id.EntityID{} // two entities per value: ties
	for i := range 20 {
		g := genesis(c.Name(), fmt.Sprint(i))
		v := int64(i % 10)
		byN[v] = append(byN[v], g.Entity)
		b.Events = append(b.Events, g)
		b.States = append(b.States, storage.StateWrite{State: stateAt(map[string]value.Value{"n": value.Int(v)}, g)})
	}
	mustApply(ctx, t, e, b)
	group := func(vs ...int64) []id.EntityID {
		var out []id.EntityID
		for _, v := range vs {
			out = append(out, sortedIDs(byN[v]...)...)
		}
		return out
	}
	fetchExpect(ctx, t, c, "n IN (1, 5, 9) ORDER BY n DESC LIMIT 1", nil, group(9)[:1])
	fetchExpect(ctx, t, c, "n IN (2, 4, 6) ORDER BY n DESC LIMIT 3", nil, group(6, 4)[:3])
	fetchExpect(ctx, t, c, "n IN (2, 4, 6) ORDER BY n DESC", nil, group(6, 4, 2))
	fetchExpect(ctx, t, c, "n IN (8, 0, 3) ORDER BY n LIMIT 3", nil, group(0, 3)[:3])
	fetchExpect(ctx, t, c, "n IN (7, 1) AND n > 0 ORDER BY n DESC LIMIT 2", nil, group(7))
}

func testLongIndexedValues(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "longvals")
	indexIfAble(ctx, t, h, c.Name(), "s")
	long := strings.Repeat("x", 1500) // longer than a key-value engine keeps of a value in a key
	b := &storage.Batch{}
	bySuffix := map[string][]id.EntityID{}
	for i := range 48 {
		suffix := string(rune('a' + i%3))
		g := genesis(c.Name(), fmt.Sprint(i))
		bySuffix[suffix] = append(bySuffix[suffix], g.Entity)
		b.Events = append(b.Events, g)
		b.States = append(b.States, storage.StateWrite{State: stateAt(map[string]value.Value{"s": value.String(long + suffix)}, g)})
	}
	mustApply(ctx, t, e, b)
	of := func(suffixes ...string) []id.EntityID {
		var out []id.EntityID
		for _, s := range suffixes {
			out = append(out, sortedIDs(bySuffix[s]...)...)
		}
		return out
	}
	fetchExpect(ctx, t, c, "s = ?", []any{long + "b"}, of("b"))
	fetchExpect(ctx, t, c, "s < ?", []any{long + "b"}, of("a"))
	fetchExpect(ctx, t, c, "s <= ? ORDER BY s", []any{long + "b"}, of("a", "b"))
	fetchExpect(ctx, t, c, "s > ? ORDER BY s DESC", []any{long + "a"}, of("c", "b"))
	fetchExpect(ctx, t, c, "s >= ? ORDER BY s LIMIT 20", []any{long + "b"}, of("b", "c")[:20])
	fetchExpect(ctx, t, c, "s IN (?, ?) ORDER BY s DESC LIMIT 17", []any{long + "a", long + "c"}, slices.Concat(of("c"), of("a"))[:17])
}

func testPrefixNames(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	base := uniqueName("pre")
	var ids [3]id.EntityID
	for i, name := range []string{base, base + "x", base + "\x00"} {
		g := genesis(name, "only")
		ids[i] = g.Entity
		mustApply(ctx, t, e, create(g, map[string]value.Value{"n": value.Int(int64(i))}))
		if ix, ok := e.(storage.Indexer); ok && h.Capabilities().Indexes {
			if err := ix.DeclareIndex(ctx, storage.Index{Collection: name, Property: "n"}); err != nil {
				t.Fatalf("DeclareIndex: %v", err)
			}
		}
	}
	for i, name := range []string{base, base + "x", base + "\x00"} {
		c, err := e.Collection(ctx, name)
		if err != nil {
			t.Fatalf("Collection(%q): %v", name, err)
		}
		fetchExpect(ctx, t, c, "true", nil, ids[i:i+1])
		fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, ids[i:i+1])
		if evs := mustEntityEvents(ctx, t, c, ids[i]); len(evs) != 1 {
			t.Errorf("EntityEvents in %q: %d events, want 1", name, len(evs))
		}
	}
}

// testOneWinnerPerHead races writers on one expected head, many rounds:
// exactly one may succeed each round.
func testOneWinnerPerHead(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "winners")
	g := genesis(c.Name(), "contended")
	cur := stateAt(map[string]value.Value{"round": value.Int(0)}, g)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{g}, States: []storage.StateWrite{{State: cur}}})
	const rounds, writers = 25, 4
	for r := range rounds {
		states := make([]storage.StateWrite, writers)
		evs := make([]event.Event, writers)
		for w := range writers {
			evs[w] = event.Event{Collection: g.Collection, Entity: g.Entity, Parent: cur.Head,
				Operations: map[string][]byte{backendName: fmt.Appendf(nil, "round %d writer %d", r, w)}}
			states[w] = storage.StateWrite{State: stateAt(map[string]value.Value{"round": value.Int(int64(r)), "w": value.Int(int64(w))}, evs[w]), Expected: cur.Head}
		}
		errs := make([]error, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				errs[w] = e.Apply(ctx, &storage.Batch{Events: evs[w : w+1], States: states[w : w+1]})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both succeeded from the same expected head", r, winner, w)
			case err == nil:
				winner = w
			case !errors.Is(err, storage.ErrConflict):
				t.Fatalf("round %d writer %d: %v, want nil or an error wrapping storage.ErrConflict", r, w, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer succeeded", r)
		}
		cur = states[winner].State
		checkState(ctx, t, c, cur)
	}
}

func testClear(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	cl, ok := e.(storage.Clearer)
	if !ok {
		t.Skipf("%T is not a storage.Clearer", e)
	}
	c := openCollection(ctx, t, e, "clear")
	indexIfAble(ctx, t, h, c.Name(), "n")
	g := genesis(c.Name(), "a")
	up := child(g, "b")
	s0 := stateAt(map[string]value.Value{"n": value.Int(1)}, g)
	mustApply(ctx, t, e, create(g, s0.Values.Map()))
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{up}, States: []storage.StateWrite{{State: stateAt(map[string]value.Value{"n": value.Int(2)}, up), Expected: s0.Head}}})
	if err := cl.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	wantNotFound(ctx, t, c, g.Entity)
	fetchExpect(ctx, t, c, "true", nil, nil)
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, nil)
	evs, err := c.GetEvents(ctx, []id.EventID{g.ID(), up.ID()})
	if err != nil || len(evs) != 0 {
		t.Errorf("GetEvents after Clear = %d events, %v; want none", len(evs), err)
	}
	if evs := mustEntityEvents(ctx, t, c, g.Entity); len(evs) != 0 {
		t.Errorf("EntityEvents after Clear = %d events, want none", len(evs))
	}
	// The cleared engine takes the same entity as new.
	mustApply(ctx, t, e, create(g, map[string]value.Value{"n": value.Int(5)}))
	fetchExpect(ctx, t, c, "n >= 0 ORDER BY n", nil, []id.EntityID{g.Entity})
	checkEventSet(t, "EntityEvents after Clear and a new write", mustEntityEvents(ctx, t, c, g.Entity), g)
}

func testClearKeeping(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	cl, ok := e.(storage.KeepingClearer)
	if !ok {
		t.Skipf("%T is not a storage.KeepingClearer", e)
	}
	gone := openCollection(ctx, t, e, "clear_dropped")
	kept := openCollection(ctx, t, e, "clear_kept")
	indexIfAble(ctx, t, h, kept.Name(), "n")
	g := genesis(gone.Name(), "a")
	mustApply(ctx, t, e, create(g, map[string]value.Value{"n": value.Int(1)}))
	k := genesis(kept.Name(), "b")
	up := child(k, "c")
	s0 := stateAt(map[string]value.Value{"n": value.Int(1)}, k)
	mustApply(ctx, t, e, create(k, s0.Values.Map()))
	s1 := stateAt(map[string]value.Value{"n": value.Int(2)}, up)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{up}, States: []storage.StateWrite{{State: s1, Expected: s0.Head}}})
	if err := cl.ClearKeeping(ctx, kept.Name()); err != nil {
		t.Fatalf("ClearKeeping: %v", err)
	}
	wantNotFound(ctx, t, gone, g.Entity)
	fetchExpect(ctx, t, gone, "true", nil, nil)
	checkState(ctx, t, kept, s1)
	fetchExpect(ctx, t, kept, "n >= 0 ORDER BY n", nil, []id.EntityID{k.Entity})
	checkEventSet(t, "EntityEvents of a kept collection after ClearKeeping", mustEntityEvents(ctx, t, kept, k.Entity), k, up)
	// A kept state takes further writes as before.
	up2 := child(up, "d")
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{up2}, States: []storage.StateWrite{{State: stateAt(map[string]value.Value{"n": value.Int(3)}, up2), Expected: s1.Head}}})
	fetchExpect(ctx, t, kept, "n = 3", nil, []id.EntityID{k.Entity})
}

// Reopener is a Harness whose engine's data outlives the engine: Reopen
// closes Engine() and opens its store again (Engine() then returns the new
// engine). StampNewerFormat closes Engine() and marks its store as written
// in a format newer than the engine's, as a later release would. The
// Engine/FormatVersion case needs it; harnesses without it skip the case.
type Reopener interface {
	Reopen(ctx context.Context) (storage.Engine, error)
	StampNewerFormat(ctx context.Context) error
}

func testFormatVersion(ctx context.Context, t T, h Harness) {
	ro, ok := h.(Reopener)
	if !ok {
		t.Skipf("the harness is not a storagetest.Reopener")
	}
	e := h.Engine()
	c := openCollection(ctx, t, e, "format")
	g := genesis(c.Name(), "kept")
	want := stateAt(map[string]value.Value{"n": value.Int(1)}, g)
	mustApply(ctx, t, e, create(g, want.Values.Map()))
	e, err := ro.Reopen(ctx)
	if err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	c, err = e.Collection(ctx, c.Name())
	if err != nil {
		t.Fatalf("Collection after Reopen: %v", err)
	}
	checkState(ctx, t, c, want)
	if err := ro.StampNewerFormat(ctx); err != nil {
		t.Fatalf("StampNewerFormat: %v", err)
	}
	e, err = ro.Reopen(ctx)
	if err == nil {
		t.Fatalf("Reopen of a store in a newer format succeeded (%T), want an error wrapping storage.ErrFormat", e)
	}
	wantErrIs(t, "Reopen of a store in a newer format", err, storage.ErrFormat)
}
