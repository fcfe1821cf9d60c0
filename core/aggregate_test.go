package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// pushdownEngine is the memory engine whose collections also aggregate
// (storage.Aggregator, from their own scan), so the node takes the
// pushdown path: initial values from the engine, changes accounted by the
// state they replace, a group whose min or max left re-read alone.
type pushdownEngine struct {
	storage.Engine
	calls *int
}

type pushdownColl struct {
	storage.Collection
	calls *int
}

func (e pushdownEngine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	c, err := e.Engine.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	return pushdownColl{c, e.calls}, nil
}

func (e pushdownEngine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	c, err := e.Engine.(storage.CollectionLooker).LookupCollection(ctx, name)
	if err != nil {
		return nil, err
	}
	return pushdownColl{c, e.calls}, nil
}

func (c pushdownColl) Aggregate(ctx context.Context, sel *query.Bound, spec storage.AggregateSpec) ([]storage.GroupResult, error) {
	*c.calls++
	states, err := c.FetchStates(ctx, &query.Bound{Where: sel.Where, Limit: -1})
	if err != nil {
		return nil, err
	}
	return storage.AggregateStates(states, nil, spec)
}

// expected computes an aggregate afresh from a fetch.
func expected(t *testing.T, c *core.Context, spec core.AggregateSpec, q string) []core.Group {
	t.Helper()
	vs, err := c.Fetch(context.Background(), "item", q)
	must(t, err)
	states := make([]value.Fields, len(vs))
	for i, v := range vs {
		states[i] = value.FieldsOf(v.Values())
	}
	return groupsOf(spec, states)
}

func groupsOf(spec core.AggregateSpec, rows []value.Fields) []core.Group {
	type acc struct {
		key  []value.Value
		n    int64
		accs []storage.Acc
	}
	m := map[string]*acc{}
	for _, r := range rows {
		key := spec.KeyOf(r)
		k := storage.GroupKey(key)
		if m[k] == nil {
			m[k] = &acc{key: key, accs: make([]storage.Acc, len(spec.Aggs))}
		}
		m[k].n++
		for i, a := range spec.Aggs {
			m[k].accs[i].AddValue(a.Op, r.Get(a.Property))
		}
	}
	if len(spec.GroupBy) == 0 && len(m) == 0 {
		m[""] = &acc{key: []value.Value{}, accs: make([]storage.Acc, len(spec.Aggs))}
	}
	var out []core.Group
	for _, a := range m {
		g := core.Group{Key: a.key, Count: a.n, Values: make([]value.Value, len(spec.Aggs))}
		for i, t := range spec.Aggs {
			g.Values[i] = a.accs[i].Result(t.Op)
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b core.Group) int { return storage.CompareKeys(a.Key, b.Key) })
	return out
}

func fmtGroups(gs []core.Group) string {
	var sb strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&sb, "%s n=%d %s; ", texts(g.Key), g.Count, texts(g.Values))
	}
	return sb.String()
}

func texts(vs []value.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.GoString()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

var fullSpec = core.AggregateSpec{
	GroupBy: []string{"genre", "year"},
	Aggs:    []core.Agg{core.SumOf("price"), core.MinOf("price"), core.MaxOf("price"), core.AvgOf("price"), core.MinOf("title"), core.MaxOf("title")},
}

// TestLiveAggregate_MatchesFreshAggregate runs random creates, edits (that
// move rows between groups and in and out of the selection) and deletes, and
// after every commit compares each live aggregate with the aggregate of a
// fresh fetch — on the node's scan path and on the pushdown path.
func TestLiveAggregate_MatchesFreshAggregate(t *testing.T) {
	for _, mode := range []string{"scan", "pushdown"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			calls := 0
			var e storage.Engine = memory.New()
			if mode == "pushdown" {
				e = pushdownEngine{e, &calls}
			}
			n := newNodeOn(t, e, policy.Permissive{})
			c := n.Context(nil)
			rng := rand.New(rand.NewPCG(1, 2))
			genres := []any{"rock", "jazz", "pop", nil}
			prices := []any{1, 2, 2.5, 10, -3, nil, "free", 7}
			set := func(m *core.Mut) {
				must(t, m.Set("genre", genres[rng.IntN(len(genres))]))
				must(t, m.Set("year", 2000+rng.IntN(3)))
				must(t, m.Set("price", prices[rng.IntN(len(prices))]))
				must(t, m.Set("title", fmt.Sprintf("t%02d", rng.IntN(30))))
				must(t, m.Set("live", rng.IntN(4) != 0))
			}
			var ids []id.EntityID
			trx := c.Begin()
			var muts []*core.Mut
			for range 20 {
				m, err := trx.Create(ctx, "item")
				must(t, err)
				set(m)
				muts = append(muts, m)
			}
			must(t, trx.Commit(ctx))
			for _, m := range muts {
				ids = append(ids, m.ID())
			}

			type live struct {
				spec core.AggregateSpec
				q    string
				la   *core.LiveAggregate
			}
			var lives []live
			for _, x := range []struct {
				spec core.AggregateSpec
				q    string
			}{
				{core.AggregateSpec{}, "true"},
				{core.AggregateSpec{}, "live = true AND year >= 2001"},
				{fullSpec, "true"},
				{fullSpec, "live = true"},
				{core.AggregateSpec{GroupBy: []string{"genre"}}, "price > 1"},
			} {
				la, err := c.Aggregate(ctx, "item", x.spec, x.q)
				must(t, err)
				defer la.Close()
				if got := la.Pushdown(); got != (mode == "pushdown") {
					t.Fatalf("Pushdown() = %v", got)
				}
				lives = append(lives, live{x.spec, x.q, la})
			}
			check := func(step int) {
				t.Helper()
				for _, l := range lives {
					want := expected(t, c, l.spec, l.q)
					if got := l.la.Groups(); fmtGroups(got) != fmtGroups(want) {
						t.Fatalf("step %d, %q %v:\n got %s\nwant %s", step, l.q, l.spec, fmtGroups(got), fmtGroups(want))
					}
				}
			}
			check(0)
			for step := 1; step <= 150; step++ {
				trx := c.Begin()
				var created []*core.Mut
				touched := map[id.EntityID]bool{}
				for range 1 + rng.IntN(3) {
					switch r := rng.IntN(10); {
					case r < 3 || len(ids) == 0:
						m, err := trx.Create(ctx, "item")
						must(t, err)
						set(m)
						created = append(created, m)
					case r < 8:
						eid := ids[rng.IntN(len(ids))]
						if touched[eid] {
							continue
						}
						touched[eid] = true
						m, err := trx.Edit(ctx, "item", eid)
						must(t, err)
						set(m)
					default:
						i := rng.IntN(len(ids))
						if touched[ids[i]] {
							continue
						}
						touched[ids[i]] = true
						must(t, trx.Delete(ctx, "item", ids[i]))
						ids = slices.Delete(ids, i, i+1)
					}
				}
				must(t, trx.Commit(ctx))
				for _, m := range created {
					ids = append(ids, m.ID())
				}
				check(step)
			}
			if mode == "pushdown" && calls < len(lives) {
				t.Fatalf("the engine aggregated %d times", calls)
			}
		})
	}
}

func TestLiveAggregate_SubscribersGetGroupChanges(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	la, err := c.Aggregate(ctx, "album", core.AggregateSpec{GroupBy: []string{"artist"}, Aggs: []core.Agg{core.MaxOf("year")}}, "year > ?", 1990)
	must(t, err)
	defer la.Close()
	sets := make(chan core.GroupChangeSet, 16)
	la.Subscribe(func(cs core.GroupChangeSet) { sets <- cs })
	next := func() string {
		t.Helper()
		select {
		case cs := <-sets:
			var parts []string
			for _, ch := range cs.Changes {
				parts = append(parts, fmt.Sprintf("%v:%s n=%d max=%s", ch.Kind, ch.Group.Key[0].Text(), ch.Group.Count, ch.Group.Values[0].Text()))
			}
			return strings.Join(parts, ", ")
		case <-time.After(10 * time.Second):
			t.Fatal("no change set")
			return ""
		}
	}
	if got := next(); got != "" {
		t.Fatalf("initial: %q", got)
	}
	ids := createAlbums(t, c, album{"Showbiz", "Muse", 1999}, album{"Absolution", "Muse", 2003}, album{"OK Computer", "Radiohead", 1997})
	if got := next(); got != `Add:'Muse' n=2 max=2003, Add:'Radiohead' n=1 max=1997` {
		t.Fatal(got)
	}
	trx := c.Begin()
	must(t, trx.Delete(ctx, "album", ids[1]))
	must(t, trx.Commit(ctx))
	if got := next(); got != `Update:'Muse' n=1 max=1999` {
		t.Fatal(got)
	}
	trx = c.Begin()
	must(t, trx.Delete(ctx, "album", ids[2]))
	must(t, trx.Commit(ctx))
	if got := next(); got != `Remove:'Radiohead' n=1 max=1997` {
		t.Fatal(got)
	}
	// A later subscriber starts from Initial.
	late := make(chan core.GroupChangeSet, 1)
	la.Subscribe(func(cs core.GroupChangeSet) { late <- cs })
	cs := <-late
	if len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Initial || cs.Changes[0].Group.Count != 1 {
		t.Fatalf("%+v", cs)
	}
}

func TestLiveAggregate_CountIsZeroWhenEmpty(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	la, err := c.Count(ctx, "album", "artist = ?", "Muse")
	must(t, err)
	defer la.Close()
	if la.Count() != 0 || len(la.Groups()) != 1 || la.Groups()[0].Count != 0 {
		t.Fatalf("%s", fmtGroups(la.Groups()))
	}
	createAlbums(t, c, album{"Drones", "Muse", 2015}, album{"Kid A", "Radiohead", 2000})
	if la.Count() != 1 {
		t.Fatal(la.Count())
	}
}

func TestLiveAggregate_RefusesBadInput(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	for _, x := range []struct {
		spec core.AggregateSpec
		q    string
		want error
	}{
		{core.AggregateSpec{}, "true ORDER BY year", storage.ErrBadAggregate},
		{core.AggregateSpec{}, "true LIMIT 3", storage.ErrBadAggregate},
		{core.AggregateSpec{GroupBy: []string{""}}, "true", storage.ErrBadAggregate},
		{core.AggregateSpec{Aggs: []core.Agg{{Op: 99, Property: "x"}}}, "true", storage.ErrBadAggregate},
		{core.AggregateSpec{}, "year >", query.ErrSyntax},
	} {
		if _, err := c.Aggregate(ctx, "album", x.spec, x.q); !errors.Is(err, x.want) {
			t.Errorf("%q %v: %v, want %v", x.q, x.spec, err, x.want)
		}
	}
	if _, err := storage.ParseAgg("median(x)"); !errors.Is(err, storage.ErrBadAggregate) || !strings.Contains(err.Error(), "median") {
		t.Error(err)
	}
	if a, err := storage.ParseAgg("SUM(price)"); err != nil || a != core.SumOf("price") {
		t.Error(a, err)
	}
}

// TestLiveAggregate_CountsOnlyReadableRows: rows the agent's per-row check
// refuses are not counted, and the aggregate is not pushed down (the
// engine cannot run that check).
func TestLiveAggregate_CountsOnlyReadableRows(t *testing.T) {
	ctx := context.Background()
	calls := 0
	n := newNodeOn(t, pushdownEngine{memory.New(), &calls}, hideSecret{})
	c := n.Context(nil)
	la, err := c.Aggregate(ctx, "album", core.AggregateSpec{GroupBy: []string{"artist"}, Aggs: []core.Agg{core.MaxOf("year")}}, "true")
	must(t, err)
	defer la.Close()
	createAlbums(t, c, album{"a", "Muse", 2001}, album{"secret", "Muse", 2020}, album{"secret", "Hidden", 1})
	if got := fmtGroups(la.Groups()); got != "[string('Muse')] n=1 [int(2001)]; " {
		t.Fatal(got)
	}
	if la.Pushdown() || calls != 0 {
		t.Fatal("pushed down past a per-row check")
	}
}

type hideSecret struct{ policy.Permissive }

func (hideSecret) CheckRead(_ context.Context, _ policy.ContextData, st *entity.State) error {
	if name, _ := st.Values.Get("name").AsString(); name == "secret" {
		return policy.ErrAccessDenied
	}
	return nil
}

// A live aggregate over a path that follows too many references, or comes
// back to its collection, is refused with query.ErrTraversal naming the
// path; a JSON path of the collection itself is not a traversal.
func TestAggregate_RefusesBadTraversals(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	if err := n.DeclareRelations(
		core.Relation{Collection: "album", Property: "artist", Target: "artist"},
		core.Relation{Collection: "artist", Property: "best", Target: "album"},
	); err != nil {
		t.Fatal(err)
	}
	c := n.Context(nil)
	if _, err := c.Count(ctx, "album", "artist.best.title = ?", "x"); !errors.Is(err, query.ErrTraversal) || !strings.Contains(err.Error(), "artist.best.title") {
		t.Fatalf("COUNT through a cycle: %v, want an error wrapping query.ErrTraversal naming the path", err)
	}
	la, err := c.Count(ctx, "album", "meta.name = ?", "Muse")
	if err != nil {
		t.Fatalf("COUNT over a JSON path of the collection itself: %v", err)
	}
	la.Close()
}
