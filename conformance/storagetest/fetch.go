package storagetest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// fetch parses, binds and runs an AnkQL selection on c.
func fetch(ctx context.Context, c storage.Collection, q string, args ...any) ([]entity.State, error) {
	b, err := query.ParseBound(q, args...)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	return c.FetchStates(ctx, b)
}

// fetchExpect checks that q returns exactly want, in that order.
func fetchExpect(ctx context.Context, t T, c storage.Collection, q string, args []any, want []id.EntityID) []entity.State {
	t.Helper()
	got, err := fetch(ctx, c, q, args...)
	if err != nil {
		t.Fatalf("FetchStates(%q): %v", q, err)
	}
	if g := entityIDs(got); !slices.Equal(g, want) {
		t.Errorf("FetchStates(%q) in %q returned %d entities %s, want %d %s", q, c.Name(), len(g), idList(g), len(want), idList(want))
	}
	return got
}

func idList(ids []id.EntityID) string {
	if len(ids) > 8 {
		return idList(ids[:8]) + "…"
	}
	s := make([]string, len(ids))
	for i, x := range ids {
		s[i] = x.String()[:8]
	}
	return "[" + strings.Join(s, " ") + "]"
}

// sortedIDs returns ids in ascending byte order, the order of unordered results.
func sortedIDs(ids ...id.EntityID) []id.EntityID {
	out := slices.Clone(ids)
	slices.SortFunc(out, id.EntityID.Compare)
	return out
}

// declareIndexes declares an index on each property of collection, or skips
// the case when the harness does not declare the Indexes capability.
func declareIndexes(ctx context.Context, t T, h Harness, collection string, props ...string) {
	t.Helper()
	if !h.Capabilities().Indexes {
		t.Skipf("the harness does not declare Capabilities.Indexes")
	}
	ix, ok := h.Engine().(storage.Indexer)
	if !ok {
		t.Fatalf("the harness declares Capabilities.Indexes but %T does not implement storage.Indexer", h.Engine())
	}
	for _, p := range props {
		if err := ix.DeclareIndex(ctx, storage.Index{Collection: collection, Property: p}); err != nil {
			t.Fatalf("DeclareIndex(%q, %q): %v", collection, p, err)
		}
	}
}

func testFetchTenThousand(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "tenk")
	const n = 10_000
	ids := make([]id.EntityID, n)
	for start := 0; start < n; start += 1000 {
		b := &storage.Batch{}
		for i := start; i < start+1000; i++ {
			g := genesis(c.Name(), fmt.Sprint(i))
			ids[i] = g.Entity
			vals := map[string]value.Value{
				"n":     value.Int(int64(i)),
				"group": value.String(fmt.Sprintf("g%02d", i%50)),
			}
			if i%10 == 0 {
				vals["tenth"] = value.Bool(true)
			}
			b.Events = append(b.Events, g)
			b.States = append(b.States, storage.StateWrite{State: stateAt(vals, g)})
		}
		mustApply(ctx, t, e, b)
	}
	all := sortedIDs(ids...)
	got := fetchExpect(ctx, t, c, "true", nil, all)
	for _, s := range got {
		if s.Collection != c.Name() || len(s.Head) != 1 || s.Values.Len() == 0 {
			t.Fatalf("fetched state %s is incomplete: collection %q head %v values %v", s.ID, s.Collection, s.Head, s.Values)
		}
	}
	fetchExpect(ctx, t, c, "true LIMIT 100", nil, all[:100])
	fetchExpect(ctx, t, c, "true LIMIT 0", nil, nil)
	fetchExpect(ctx, t, c, "n >= 9950 ORDER BY n DESC", nil, reversed(ids[9950:]))
	fetchExpect(ctx, t, c, "n >= 100 ORDER BY n DESC LIMIT 50", nil, reversed(ids[n-50:]))
	fetchExpect(ctx, t, c, "n < 5000 ORDER BY n ASC LIMIT 3", nil, ids[:3])
	var tenth []id.EntityID
	for i := 0; i < n; i += 10 {
		tenth = append(tenth, ids[i])
	}
	fetchExpect(ctx, t, c, "tenth = true ORDER BY n", nil, tenth)
	fetchExpect(ctx, t, c, "tenth IS NULL AND n < 12 ORDER BY n DESC", nil,
		[]id.EntityID{ids[11], ids[9], ids[8], ids[7], ids[6], ids[5], ids[4], ids[3], ids[2], ids[1]})
	var g07 []id.EntityID
	for i := 7; i < n; i += 50 {
		g07 = append(g07, ids[i])
	}
	fetchExpect(ctx, t, c, "group = 'g07' ORDER BY n DESC LIMIT 5", nil, reversed(g07)[:5])
	fetchExpect(ctx, t, c, "group = 'g07'", nil, sortedIDs(g07...))
	fetchExpect(ctx, t, c, "group = ? ORDER BY group, n LIMIT 5", []any{"g07"}, g07[:5])
}

func reversed(ids []id.EntityID) []id.EntityID {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

func testOrderAcrossKinds(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "kinds")
	ref := genesis("elsewhere", "ref").Entity
	// In ascending order; NULL is the absent property.
	vals := []value.Value{
		value.Null,
		value.Bool(false),
		value.Bool(true),
		value.Int(-5),
		value.Float(-0.5),
		value.Int(0),
		value.Float(0.25),
		value.Int(1),
		value.Float(2.5),
		value.Int(1 << 53),
		value.String(""),
		value.String("A"),
		value.String("a"),
		value.String("é"),
		value.Bytes(nil),
		value.Bytes([]byte{0}),
		value.Bytes([]byte{0xff}),
		value.MustJSON(`[1]`),
		value.MustJSON(`{"a":1}`),
		value.Ref(ref),
	}
	b := &storage.Batch{}
	ids := make([]id.EntityID, len(vals))
	for i, v := range vals {
		g := genesis(c.Name(), fmt.Sprint(i))
		ids[i] = g.Entity
		m := map[string]value.Value{"i": value.Int(int64(i))}
		if !v.IsNull() {
			m["v"] = v
		}
		b.Events = append(b.Events, g)
		b.States = append(b.States, storage.StateWrite{State: stateAt(m, g)})
	}
	mustApply(ctx, t, e, b)
	fetchExpect(ctx, t, c, "true ORDER BY v", nil, ids)
	fetchExpect(ctx, t, c, "true ORDER BY v ASC", nil, ids)
	fetchExpect(ctx, t, c, "true ORDER BY v DESC", nil, reversed(ids))
	fetchExpect(ctx, t, c, "true ORDER BY v DESC LIMIT 3", nil, reversed(ids)[:3])
	fetchExpect(ctx, t, c, "v IS NOT NULL ORDER BY v LIMIT 2", nil, ids[1:3])
	// Comparisons with bytes and refs only meet their own kind.
	fetchExpect(ctx, t, c, "v > ? ORDER BY v", []any{[]byte{0}}, ids[16:17])
	fetchExpect(ctx, t, c, "v = ?", []any{ref}, ids[19:20])
	fetchExpect(ctx, t, c, "v >= ? ORDER BY v", []any{[]byte{}}, ids[14:17])
}

func testTies(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "ties")
	b := &storage.Batch{}
	type row struct {
		id   id.EntityID
		k    int64
		name string
	}
	var rows []row
	for i := range 12 {
		g := genesis(c.Name(), fmt.Sprint(i))
		r := row{g.Entity, int64(i % 3), fmt.Sprint("n", i%2)}
		rows = append(rows, r)
		m := map[string]value.Value{"k": value.Int(r.k), "name": value.String(r.name)}
		if i%3 == 1 {
			m["k"] = value.Float(float64(r.k)) // 1.0 ties with 1
		}
		b.Events = append(b.Events, g)
		b.States = append(b.States, storage.StateWrite{State: stateAt(m, g)})
	}
	mustApply(ctx, t, e, b)
	order := func(cmp func(a, b row) int) []id.EntityID {
		s := slices.Clone(rows)
		slices.SortFunc(s, func(a, b row) int {
			if c := cmp(a, b); c != 0 {
				return c
			}
			return a.id.Compare(b.id)
		})
		out := make([]id.EntityID, len(s))
		for i := range s {
			out[i] = s[i].id
		}
		return out
	}
	asc := func(a, b row) int { return int(a.k - b.k) }
	desc := func(a, b row) int { return int(b.k - a.k) }
	fetchExpect(ctx, t, c, "true ORDER BY k", nil, order(asc))
	fetchExpect(ctx, t, c, "true ORDER BY k DESC", nil, order(desc))
	fetchExpect(ctx, t, c, "true ORDER BY k DESC LIMIT 5", nil, order(desc)[:5])
	fetchExpect(ctx, t, c, "true ORDER BY name DESC, k", nil, order(func(a, b row) int {
		if c := strings.Compare(b.name, a.name); c != 0 {
			return c
		}
		return asc(a, b)
	}))
	fetchExpect(ctx, t, c, "k = 1 ORDER BY name", nil, order(func(a, b row) int {
		if c := asc(a, b); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})[4:8])
	fetchExpect(ctx, t, c, "k = 1", nil, sortedIDs(order(asc)[4:8]...))
}

func testFetchReturnsCopies(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "fetchcopies")
	g := genesis(c.Name(), "a")
	b := create(g, map[string]value.Value{"n": value.Int(1)})
	want := b.States[0].State.Clone()
	mustApply(ctx, t, e, b)
	got := fetchExpect(ctx, t, c, "n = 1", nil, []id.EntityID{g.Entity})
	if len(got) == 1 {
		got[0].Values = got[0].Values.With("n", value.Int(2))
		got[0].Backends.StateOf(backendName)[0] ^= 0xff
		got[0].Head[0][0] ^= 0xff
	}
	checkState(ctx, t, c, want)
	fetchExpect(ctx, t, c, "n = 1", nil, []id.EntityID{g.Entity})
}

// testDeclaredIndexes checks that declaring indexes (before and after data
// exists, twice, and on properties no entity has) changes no answer and that
// later writes are seen through them.
func testDeclaredIndexes(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "indexed")
	var ids []id.EntityID
	write := func(from, to int) {
		b := &storage.Batch{}
		for i := from; i < to; i++ {
			g := genesis(c.Name(), fmt.Sprint(i))
			ids = append(ids, g.Entity)
			m := map[string]value.Value{"n": value.Int(int64(i)), "s": value.String(fmt.Sprintf("s%02d", i))}
			b.Events = append(b.Events, g)
			b.States = append(b.States, storage.StateWrite{State: stateAt(m, g)})
		}
		mustApply(ctx, t, e, b)
	}
	write(0, 10)
	declareIndexes(ctx, t, h, c.Name(), "n", "s", "never_used")
	declareIndexes(ctx, t, h, c.Name(), "n")
	write(10, 20)
	fetchExpect(ctx, t, c, "n >= 5 AND n < 15 ORDER BY n", nil, ids[5:15])
	fetchExpect(ctx, t, c, "s = 's12'", nil, ids[12:13])
	fetchExpect(ctx, t, c, "never_used IS NULL ORDER BY s DESC LIMIT 2", nil, []id.EntityID{ids[19], ids[18]})
	// An update moves the entity in the index.
	g := genesis(c.Name(), "3")
	up := child(g, "moved")
	st := stateAt(map[string]value.Value{"n": value.Int(100), "s": value.String("s03")}, up)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{up}, States: []storage.StateWrite{{State: st, Expected: event.NewClock(g.ID())}}})
	fetchExpect(ctx, t, c, "n = 3", nil, nil)
	fetchExpect(ctx, t, c, "n > 18 ORDER BY n", nil, []id.EntityID{ids[19], ids[3]})
	// A property that disappears leaves the index.
	up2 := child(up, "dropped")
	st2 := stateAt(map[string]value.Value{"s": value.String("s03")}, up2)
	mustApply(ctx, t, e, &storage.Batch{Events: []event.Event{up2}, States: []storage.StateWrite{{State: st2, Expected: st.Head}}})
	fetchExpect(ctx, t, c, "n > 18 ORDER BY n", nil, []id.EntityID{ids[19]})
	fetchExpect(ctx, t, c, "n IS NULL", nil, []id.EntityID{ids[3]})
	if err := e.(storage.Indexer).DeclareIndex(ctx, storage.Index{Collection: "", Property: "n"}); err == nil {
		t.Errorf("DeclareIndex with an empty collection name succeeded, want an error wrapping storage.ErrInvalid")
	} else {
		wantErrIs(t, "DeclareIndex with an empty collection name", err, storage.ErrInvalid)
	}
}
