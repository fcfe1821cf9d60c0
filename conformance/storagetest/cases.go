package storagetest

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// Cases returns every case of the suite, in a stable order. Cases that need
// a capability their harness does not declare skip themselves.
func Cases() []Case {
	cs := []Case{
		{"Collection/Name", testCollectionName},
		{"Collection/EmptyNameIsInvalid", testEmptyName},
		{"Collection/Isolation", testIsolation},
		{"GetState/RoundTripsEveryKind", testRoundTrip},
		{"GetState/NotFound", testNotFound},
		{"GetState/ReturnsCopies", testReturnsCopies},
		{"GetState/Unicode", testUnicode},
		{"GetState/LargeValues", testLargeValues},
		{"GetState/ManyInOneStep", testGetMany},
		{"Apply/EmptyBatch", testEmptyBatch},
		{"Apply/UpdatesOnExpectedHead", testUpdate},
		{"Apply/ConflictOnExistingNewEntity", testConflictExisting},
		{"Apply/ConflictOnStaleHead", testConflictStale},
		{"Apply/ConflictOnMissingEntity", testConflictMissing},
		{"Apply/AtomicOnConflict", testAtomic},
		{"Apply/DuplicateEventsAreNoOps", testDuplicateEvents},
		{"Events/GetEventsOmitsMissing", testGetEvents},
		{"Events/EntityEvents", testEntityEvents},
		{"Concurrent/DisjointWriters", testConcurrentDisjoint},
		{"Concurrent/ConflictingWriters", testConcurrentConflicting},
		{"Concurrent/NoLostUpdates", testNoLostUpdates},
		{"Fetch/TenThousand", testFetchTenThousand},
		{"Fetch/OrderAcrossKinds", testOrderAcrossKinds},
		{"Fetch/TiesByEntityID", testTies},
		{"Fetch/IncludesDeleted", testIncludesDeleted},
		{"Fetch/ReturnsCopies", testFetchReturnsCopies},
		{"Fetch/DeclaredIndexes", testDeclaredIndexes},
	}
	cs = append(cs, lookupCases()...)
	cs = append(cs, repairCases()...)
	cs = append(cs, corpusCases()...)
	cs = append(cs, relationCases()...)
	cs = append(cs, upkeepCases()...)
	cs = append(cs, feedCases()...)
	cs = append(cs, paginationCases()...)
	cs = append(cs, Case{"Engine/ErrClosed", testClosed})
	return cs
}

func testCollectionName(ctx context.Context, t T, h Harness) {
	name := uniqueName("named")
	c, err := h.Engine().Collection(ctx, name)
	if err != nil {
		t.Fatalf("Collection(%q): %v", name, err)
	}
	if c.Name() != name {
		t.Errorf("Name() = %q, want %q", c.Name(), name)
	}
	// Opening again sees the same data.
	ev := genesis(name, "a")
	mustApply(ctx, t, h.Engine(), create(ev, map[string]value.Value{"x": value.Int(1)}))
	again, err := h.Engine().Collection(ctx, name)
	if err != nil {
		t.Fatalf("Collection(%q) again: %v", name, err)
	}
	mustGet(ctx, t, again, ev.Entity)
}

func testEmptyName(ctx context.Context, t T, h Harness) {
	_, err := h.Engine().Collection(ctx, "")
	wantErrIs(t, `Collection("")`, err, storage.ErrInvalid)

	ev := genesis("x", "a")
	st := stateAt(nil, ev)
	st.Collection = ""
	err = h.Engine().Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: st}}})
	wantErrIs(t, "Apply of a state without collection", err, storage.ErrInvalid)
}

func testRoundTrip(ctx context.Context, t T, h Harness) {
	c := openCollection(ctx, t, h.Engine(), "kinds")
	ref := genesis("elsewhere", "ref").Entity
	values := map[string]value.Value{
		"bool_t":    value.Bool(true),
		"bool_f":    value.Bool(false),
		"int":       value.Int(42),
		"int_neg":   value.Int(-7),
		"int_zero":  value.Int(0),
		"int_max":   value.Int(math.MaxInt64),
		"int_min":   value.Int(math.MinInt64),
		"float":     value.Float(1.5),
		"float_one": value.Float(1.0),
		"float_neg": value.Float(-0.1),
		"float_big": value.Float(1e300),
		"float_sub": value.Float(5e-324),
		"float_inf": value.Float(math.Inf(1)),
		"string":    value.String("hello"),
		"empty":     value.String(""),
		"nul_byte":  value.String("a\x00b"),
		"bytes":     value.Bytes([]byte{0, 1, 0xfe, 0xff}),
		"no_bytes":  value.Bytes([]byte{}),
		"json_obj":  value.MustJSON(`{"a":[1,2.5,"x",null,true],"b":{"c":{}}}`),
		"json_arr":  value.MustJSON(`[]`),
		"ref":       value.Ref(ref),
		"_deleted":  value.Bool(false),
	}
	ev := genesis(c.Name(), "every kind")
	b := create(ev, values)
	b.States[0].State.Backends = entity.BackendsOf(map[string][]byte{
		"lww":   {0x00, 0xff, 0x80, 0x7f, 0x00},
		"text":  []byte("\xff\xfe not utf-8 \x00"),
		"empty": {},
	})
	want := b.States[0].State.Clone()
	mustApply(ctx, t, h.Engine(), b)
	checkState(ctx, t, c, want)
	evs, err := c.GetEvents(ctx, []id.EventID{ev.ID()})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	if len(evs) != 1 {
		t.Fatalf("GetEvents returned %d events, want 1", len(evs))
	}
	got := evs[0]
	if got.ID() != ev.ID() || got.Entity != ev.Entity || got.Collection != ev.Collection ||
		got.Timestamp != ev.Timestamp || string(got.Nonce) != string(ev.Nonce) ||
		string(got.Operations[backendName]) != string(ev.Operations[backendName]) {
		t.Errorf("event does not round-trip: got %+v, want %+v", got, ev)
	}
}

func testNotFound(ctx context.Context, t T, h Harness) {
	c := openCollection(ctx, t, h.Engine(), "empty")
	wantNotFound(ctx, t, c, genesis(c.Name(), "never written").Entity)
	wantNotFound(ctx, t, c, id.EntityID{})
	other := openCollection(ctx, t, h.Engine(), "other")
	ev := genesis(other.Name(), "a")
	mustApply(ctx, t, h.Engine(), create(ev, nil))
	wantNotFound(ctx, t, c, ev.Entity)
}

func testReturnsCopies(ctx context.Context, t T, h Harness) {
	c := openCollection(ctx, t, h.Engine(), "copies")
	ev := genesis(c.Name(), "a")
	evID := ev.ID() // b shares ev's maps, which the case scribbles on
	b := create(ev, map[string]value.Value{"x": value.Int(1)})
	want := b.States[0].State.Clone()
	mustApply(ctx, t, h.Engine(), b)
	// The caller's batch is its own after Apply.
	b.States[0].State.Values = b.States[0].State.Values.With("x", value.Int(2))
	b.States[0].State.Backends.StateOf(backendName)[0] = 0x42
	b.States[0].State.Head[0][0] ^= 1
	b.Events[0].Operations[backendName][0] = 'X'
	checkState(ctx, t, c, want)
	// And so is what GetState returned.
	got := mustGet(ctx, t, c, ev.Entity)
	got.Values = got.Values.With("x", value.Int(3)).With("y", value.Int(4))
	got.Backends.StateOf(backendName)[0] = 0x43
	got.Head[0][0] ^= 1
	checkState(ctx, t, c, want)
	evs, err := c.GetEvents(ctx, []id.EventID{evID})
	if err != nil || len(evs) != 1 {
		t.Fatalf("GetEvents = %d events, %v; want 1", len(evs), err)
	}
	evs[0].Operations[backendName][0] = 'Y'
	evs, err = c.GetEvents(ctx, []id.EventID{evID})
	if err != nil || len(evs) != 1 {
		t.Fatalf("GetEvents = %d events, %v; want 1", len(evs), err)
	}
	if evs[0].ID() != evID {
		t.Errorf("stored event changed through a returned or written copy: id %s, want %s", evs[0].ID(), evID)
	}
}

func testUnicode(ctx context.Context, t T, h Harness) {
	name := uniqueName("álbum_🎵_名前")
	c, err := h.Engine().Collection(ctx, name)
	if err != nil {
		t.Fatalf("Collection(%q): %v", name, err)
	}
	values := map[string]value.Value{
		"名前":          value.String("値 🎵 ñ"),
		"with space":  value.String("Ünïcödé"),
		`quote"d`:     value.String(`it's "quoted"`),
		"emoji🎵":      value.Int(7),
		"Case":        value.String("upper"),
		"case":        value.String("lower"),
		"combining":   value.String("e\u0301"),
		"precomposed": value.String("\u00e9"),
	}
	ev := genesis(name, "unicode")
	b := create(ev, values)
	want := b.States[0].State.Clone()
	mustApply(ctx, t, h.Engine(), b)
	checkState(ctx, t, c, want)
	if c.Name() != name {
		t.Errorf("Name() = %q, want %q", c.Name(), name)
	}
	fetchExpect(ctx, t, c, `"名前" = '値 🎵 ñ' AND "with space" LIKE 'Ü%' AND "quote""d" = 'it''s "quoted"'`, nil, []id.EntityID{ev.Entity})
	fetchExpect(ctx, t, c, `"emoji🎵" = 7 AND Case = 'upper' AND case = 'lower'`, nil, []id.EntityID{ev.Entity})
	// Canonically equivalent but different bytes are different strings.
	fetchExpect(ctx, t, c, `combining = ?`, []any{"\u00e9"}, nil)
	fetchExpect(ctx, t, c, `precomposed = ?`, []any{"\u00e9"}, []id.EntityID{ev.Entity})
}

func testLargeValues(ctx context.Context, t T, h Harness) {
	c := openCollection(ctx, t, h.Engine(), "large")
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	unit := "ünïcode 🎵 "
	text := strings.Repeat(unit, (1<<20)/len(unit)+1) // just over 1 MiB
	ev := genesis(c.Name(), "large")
	b := create(ev, map[string]value.Value{
		"text":  value.String(text),
		"bytes": value.Bytes(big),
		"small": value.Int(1),
	})
	b.States[0].State.Backends.Set(backendName, big)
	want := b.States[0].State.Clone()
	mustApply(ctx, t, h.Engine(), b)
	checkState(ctx, t, c, want)
	fetchExpect(ctx, t, c, `text = ?`, []any{text}, []id.EntityID{ev.Entity})
}

func testEmptyBatch(ctx context.Context, t T, h Harness) {
	mustApply(ctx, t, h.Engine(), &storage.Batch{})
}

func testUpdate(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "update")
	g := genesis(c.Name(), "a")
	mustApply(ctx, t, e, create(g, map[string]value.Value{"n": value.Int(1)}))
	e1 := child(g, "1")
	s1 := stateAt(map[string]value.Value{"n": value.Int(2), "added": value.String("x")}, e1)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{e1}, States: []storage.StateWrite{{State: s1, Expected: event.NewClock(g.ID())}}})
	checkState(ctx, t, c, s1)
	// Two concurrent events make a head of two; the next write expects both.
	e2a, e2b := child(e1, "2a"), child(e1, "2b")
	s2 := stateAt(map[string]value.Value{"n": value.Int(3)}, e2a, e2b)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{e2a, e2b}, States: []storage.StateWrite{{State: s2, Expected: s1.Head}}})
	checkState(ctx, t, c, s2)
	e3 := child(e2a, "3", e2b)
	s3 := stateAt(map[string]value.Value{}, e3)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{e3}, States: []storage.StateWrite{{State: s3, Expected: event.NewClock(e2b.ID(), e2a.ID())}}})
	checkState(ctx, t, c, s3)
	// A state may be written without events (a snapshot received from a peer).
	s4 := stateAt(map[string]value.Value{"n": value.Int(9)}, child(e3, "4"))
	mustApply(ctx, t, e, &storage.Batch{States: []storage.StateWrite{{State: s4, Expected: s3.Head}}})
	checkState(ctx, t, c, s4)
}

func testConflictExisting(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "exists")
	g := genesis(c.Name(), "a")
	b := create(g, map[string]value.Value{"n": value.Int(1)})
	want := b.States[0].State.Clone()
	mustApply(ctx, t, e, b)
	again := create(g, map[string]value.Value{"n": value.Int(2)})
	err := e.Apply(ctx, again)
	wantErrIs(t, "Apply of a new entity that is already stored", err, storage.ErrConflict)
	checkState(ctx, t, c, want)
}

func testConflictStale(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "stale")
	g := genesis(c.Name(), "a")
	mustApply(ctx, t, e, create(g, map[string]value.Value{"n": value.Int(1)}))
	e1 := child(g, "1")
	s1 := stateAt(map[string]value.Value{"n": value.Int(2)}, e1)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{e1}, States: []storage.StateWrite{{State: s1, Expected: event.NewClock(g.ID())}}})
	// A writer that still believes the head is {g}.
	e1b := child(g, "1b")
	s1b := stateAt(map[string]value.Value{"n": value.Int(3)}, e1b)
	err := e.Apply(ctx, &storage.Batch{Events: []event.Event{e1b}, States: []storage.StateWrite{{State: s1b, Expected: event.NewClock(g.ID())}}})
	wantErrIs(t, "Apply with a stale expected head", err, storage.ErrConflict)
	checkState(ctx, t, c, s1)
	evs, err := c.GetEvents(ctx, []id.EventID{e1b.ID()})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	checkEventSet(t, "events of the refused batch", evs)
	// A head that is a superset or subset of the stored one is not it either.
	for _, exp := range []event.Clock{event.NewClock(e1.ID(), g.ID()), event.NewClock(e1.ID(), e1b.ID())} {
		e2 := child(e1, "2")
		err = e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: stateAt(nil, e2), Expected: exp}}})
		wantErrIs(t, "Apply with an expected head that is not the stored one", err, storage.ErrConflict)
	}
	checkState(ctx, t, c, s1)
}

func testConflictMissing(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "missing")
	g := genesis(c.Name(), "a")
	e1 := child(g, "1")
	err := e.Apply(ctx, &storage.Batch{Events: []event.Event{e1}, States: []storage.StateWrite{{State: stateAt(nil, e1), Expected: event.NewClock(g.ID())}}})
	wantErrIs(t, "Apply expecting a head for an entity that is not stored", err, storage.ErrConflict)
	wantNotFound(ctx, t, c, g.Entity)
}

func testAtomic(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c1 := openCollection(ctx, t, e, "atomic1")
	c2 := openCollection(ctx, t, e, "atomic2")
	// An entity in c2 whose head the batch gets wrong.
	old := genesis(c2.Name(), "old")
	oldBatch := create(old, map[string]value.Value{"n": value.Int(1)})
	oldState := oldBatch.States[0].State.Clone()
	mustApply(ctx, t, e, oldBatch)

	a, b := genesis(c1.Name(), "a"), genesis(c1.Name(), "b")
	up := child(old, "update")
	other := child(old, "other")
	batch := &storage.Batch{
		Events: []event.Event{a, b, up},
		States: []storage.StateWrite{
			{State: stateAt(map[string]value.Value{"n": value.Int(1)}, a)},
			{State: stateAt(map[string]value.Value{"n": value.Int(2)}, b)},
			{State: stateAt(map[string]value.Value{"n": value.Int(3)}, up), Expected: event.NewClock(other.ID())},
		},
	}
	err := e.Apply(ctx, batch)
	wantErrIs(t, "Apply of a batch with one conflicting state", err, storage.ErrConflict)
	wantNotFound(ctx, t, c1, a.Entity)
	wantNotFound(ctx, t, c1, b.Entity)
	checkState(ctx, t, c2, oldState)
	evs, err := c1.GetEvents(ctx, []id.EventID{a.ID(), b.ID()})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	checkEventSet(t, "events of the refused batch in "+c1.Name(), evs)
	evs, err = c2.GetEvents(ctx, []id.EventID{up.ID()})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	checkEventSet(t, "events of the refused batch in "+c2.Name(), evs)
	for _, x := range []struct {
		c   storage.Collection
		eid id.EntityID
	}{{c1, a.Entity}, {c1, b.Entity}} {
		evs, err := x.c.EntityEvents(ctx, x.eid)
		if err != nil {
			t.Fatalf("EntityEvents: %v", err)
		}
		checkEventSet(t, "EntityEvents after a refused batch", evs)
	}
	fetchExpect(ctx, t, c1, "true", nil, nil)

	// The same batch with the right head writes everything.
	batch.States[2].Expected = event.NewClock(old.ID())
	mustApply(ctx, t, e, batch)
	for _, w := range batch.States {
		cc := c1
		if w.State.Collection == c2.Name() {
			cc = c2
		}
		checkState(ctx, t, cc, w.State)
	}
}

func testDuplicateEvents(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "dups")
	g := genesis(c.Name(), "a")
	e1 := child(g, "1")
	mustApply(ctx, t, e, create(g, nil))
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{g, e1, e1}})
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{e1, g}})
	evs, err := c.GetEvents(ctx, []id.EventID{g.ID(), e1.ID(), g.ID()})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	if len(evs) < 2 || len(evs) > 3 {
		t.Errorf("GetEvents of [g, e1, g] returned %d events, want 2 (or 3 repeating the repeated id)", len(evs))
	}
	evs, err = c.EntityEvents(ctx, g.Entity)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	checkEventSet(t, "EntityEvents after duplicate writes", evs, g, e1)
}

func testGetEvents(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "events")
	g1, g2 := genesis(c.Name(), "a"), genesis(c.Name(), "b")
	e1 := child(g1, "1")
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{g1, g2, e1}})
	never := child(g1, "never stored")
	missing := never.ID()
	evs, err := c.GetEvents(ctx, []id.EventID{e1.ID(), missing, g2.ID()})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	checkEventSet(t, "GetEvents with a missing id", evs, e1, g2)
	evs, err = c.GetEvents(ctx, nil)
	if err != nil {
		t.Fatalf("GetEvents(nil): %v", err)
	}
	checkEventSet(t, "GetEvents(nil)", evs)
	evs, err = c.GetEvents(ctx, []id.EventID{missing})
	if err != nil {
		t.Fatalf("GetEvents of only missing ids: %v (want no error)", err)
	}
	checkEventSet(t, "GetEvents of only missing ids", evs)
	for _, ev := range []event.Event{g1, g2, e1} {
		evs, err := c.GetEvents(ctx, []id.EventID{ev.ID()})
		if err != nil || len(evs) != 1 {
			t.Fatalf("GetEvents(%s) = %d events, %v", ev.ID(), len(evs), err)
		}
		got := evs[0]
		if got.Entity != ev.Entity || !equalClock(got.Parent, ev.Parent) {
			t.Errorf("event %s comes back with entity %s parent %v, want %s %v", ev.ID(), got.Entity, got.Parent, ev.Entity, ev.Parent)
		}
	}
}

func equalClock(a, b event.Clock) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testEntityEvents(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "entityevents")
	a, b := genesis(c.Name(), "a"), genesis(c.Name(), "b")
	a1 := child(a, "1")
	a2, a2b := child(a1, "2"), child(a1, "2b")
	b1 := child(b, "1")
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{a, b, a1}})
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{a2, a2b, b1}})
	evs, err := c.EntityEvents(ctx, a.Entity)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	checkEventSet(t, "EntityEvents(a)", evs, a, a1, a2, a2b)
	evs, err = c.EntityEvents(ctx, b.Entity)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	checkEventSet(t, "EntityEvents(b)", evs, b, b1)
	evs, err = c.EntityEvents(ctx, genesis(c.Name(), "none").Entity)
	if err != nil {
		t.Fatalf("EntityEvents of an unknown entity: %v (want no error)", err)
	}
	checkEventSet(t, "EntityEvents of an unknown entity", evs)
}

func testIsolation(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c1 := openCollection(ctx, t, e, "iso1")
	c2 := openCollection(ctx, t, e, "iso2")
	// The same entity id in two collections: two different entities.
	g := genesis(c1.Name(), "shared")
	s1 := stateAt(map[string]value.Value{"n": value.Int(1)}, g)
	s2 := s1.Clone()
	s2.Collection = c2.Name()
	s2.Values = value.FieldsOf(map[string]value.Value{"n": value.Int(2)})
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{g}, States: []storage.StateWrite{{State: s1}}})
	mustApply(ctx, t, e, &storage.Batch{States: []storage.StateWrite{{State: s2}}})
	checkState(ctx, t, c1, s1)
	checkState(ctx, t, c2, s2)
	fetchExpect(ctx, t, c1, "n = 1", nil, []id.EntityID{g.Entity})
	fetchExpect(ctx, t, c1, "n = 2", nil, nil)
	fetchExpect(ctx, t, c2, "n = 2", nil, []id.EntityID{g.Entity})
	evs, err := c2.GetEvents(ctx, []id.EventID{g.ID()})
	if err != nil {
		t.Fatalf("GetEvents: %v", err)
	}
	checkEventSet(t, "GetEvents in a collection for another collection's event", evs)
	evs, err = c2.EntityEvents(ctx, g.Entity)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	checkEventSet(t, "EntityEvents in a collection for another collection's entity", evs)
	evs, err = c1.EntityEvents(ctx, g.Entity)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	checkEventSet(t, "EntityEvents", evs, g)
}

func testClosed(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "closed")
	g := genesis(c.Name(), "a")
	mustApply(ctx, t, e, create(g, nil))
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := e.Collection(ctx, c.Name())
	wantErrIs(t, "Collection after Close", err, storage.ErrClosed)
	err = e.Apply(ctx, create(genesis(c.Name(), "b"), nil))
	wantErrIs(t, "Apply after Close", err, storage.ErrClosed)
	_, err = c.GetState(ctx, g.Entity)
	wantErrIs(t, "GetState after Close", err, storage.ErrClosed)
	_, err = c.GetEvents(ctx, []id.EventID{g.ID()})
	wantErrIs(t, "GetEvents after Close", err, storage.ErrClosed)
	_, err = c.EntityEvents(ctx, g.Entity)
	wantErrIs(t, "EntityEvents after Close", err, storage.ErrClosed)
	_, err = fetch(ctx, c, "true")
	wantErrIs(t, "FetchStates after Close", err, storage.ErrClosed)
	if ix, ok := e.(storage.Indexer); ok {
		err = ix.DeclareIndex(ctx, storage.Index{Collection: c.Name(), Property: "x"})
		wantErrIs(t, "DeclareIndex after Close", err, storage.ErrClosed)
	}
	// Closing is a call like any other: a second Close fails too.
	wantErrIs(t, "a second Close", e.Close(), storage.ErrClosed)
}

func testIncludesDeleted(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "deleted")
	a, b := genesis(c.Name(), "a"), genesis(c.Name(), "b")
	mustApply(ctx, t, e, create(a, map[string]value.Value{"n": value.Int(1), entity.DeletedProperty: value.Bool(true)}))
	mustApply(ctx, t, e, create(b, map[string]value.Value{"n": value.Int(1)}))
	fetchExpect(ctx, t, c, "n = 1", nil, sortedIDs(a.Entity, b.Entity))
	got := mustGet(ctx, t, c, a.Entity)
	if !got.Deleted() {
		t.Errorf("a deleted entity comes back not deleted: %v", got.Values)
	}
}

// testGetMany holds an engine that reads many states in one step
// (storage.ManyReader) to GetState's answers: the states in the order of
// the ids asked for, a zero State for one not stored, a repeated id
// answered at each of its places.
func testGetMany(ctx context.Context, t T, h Harness) {
	c := openCollection(ctx, t, h.Engine(), "many")
	mr, ok := c.(storage.ManyReader)
	if !ok {
		t.Skipf("%T does not implement storage.ManyReader (it reads states one at a time)", c)
	}
	const n = 40
	var ids []id.EntityID
	want := map[id.EntityID]entity.State{}
	b := &storage.Batch{}
	for i := range n {
		ev := genesis(c.Name(), fmt.Sprintf("many %d", i))
		one := create(ev, map[string]value.Value{"i": value.Int(int64(i)), "s": value.String(strings.Repeat("x", i))})
		b.States = append(b.States, one.States...)
		b.Events = append(b.Events, one.Events...)
		want[ev.Entity] = one.States[0].State.Clone()
		ids = append(ids, ev.Entity)
	}
	mustApply(ctx, t, h.Engine(), b)
	missing := genesis(c.Name(), "never written").Entity
	ask := append([]id.EntityID{missing}, ids...)
	ask = append(ask, ids[3], missing, ids[0])
	got, err := mr.GetStatesShared(ctx, ask)
	if err != nil {
		t.Fatalf("GetStatesShared: %v", err)
	}
	if len(got) != len(ask) {
		t.Fatalf("GetStatesShared returned %d states for %d ids", len(got), len(ask))
	}
	for i, eid := range ask {
		w, stored := want[eid]
		if !stored {
			if !got[i].ID.IsZero() {
				t.Errorf("GetStatesShared[%d] (%s, not stored) = a state of %s, want a zero State", i, eid, got[i].ID)
			}
			continue
		}
		if d := diffState(w, got[i]); d != "" {
			t.Errorf("GetStatesShared[%d] (%s): %s", i, eid, d)
		}
	}
	if got, err := mr.GetStatesShared(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GetStatesShared(nil) = %d states, %v; want none", len(got), err)
	}
	// A collection that was never written answers with zero States.
	empty := openCollection(ctx, t, h.Engine(), "many-empty")
	if emr, ok := empty.(storage.ManyReader); ok {
		got, err := emr.GetStatesShared(ctx, ids[:2])
		if err != nil || len(got) != 2 || !got[0].ID.IsZero() || !got[1].ID.IsZero() {
			t.Errorf("GetStatesShared on an empty collection = %d states, %v; want 2 zero States", len(got), err)
		}
	}
}
