package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

func groupText(gs []storage.GroupResult, spec storage.AggregateSpec) string {
	var sb strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&sb, "%s n=%d", valsText(g.Key), g.Count)
		for i, a := range spec.Aggs {
			fmt.Fprintf(&sb, " %s=%s", a, g.Accs[i].Result(a.Op).GoString())
		}
		sb.WriteString("; ")
	}
	return sb.String()
}

func valsText(vs []value.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.GoString()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestAggregate_MatchesTheNodesAggregate: the SQL aggregate of a selection
// equals storage.AggregateStates of FetchStates, over values of every kind
// (numbers of both types, infinities, NULLs, strings, bools, bytes) and
// flagged rows (a string SQL cannot hold).
func TestAggregate_MatchesTheNodesAggregate(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	vals := []value.Value{value.Null, value.Int(1), value.Float(1), value.Float(2.5), value.Int(-7), value.Float(posInfF()),
		value.String("a"), value.String("b\x00x"), value.Bool(true), value.Bool(false), value.Int(1 << 60)}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 60 {
		mustApply(t, e, create(genesis("agg", fmt.Sprint(i)), map[string]value.Value{
			"g":    vals[rng.IntN(4)],
			"h":    []value.Value{value.String("x"), value.String("y"), value.Bool(true)}[rng.IntN(3)],
			"n":    vals[rng.IntN(6)],
			"m":    vals[rng.IntN(len(vals))],
			"keep": value.Bool(rng.IntN(3) != 0),
		}))
	}
	coll, err := e.Collection(ctx, "agg")
	if err != nil {
		t.Fatal(err)
	}
	ag := coll.(storage.Aggregator)
	for _, x := range []struct {
		spec storage.AggregateSpec
		q    string
	}{
		{storage.AggregateSpec{}, "true"},
		{storage.AggregateSpec{}, "keep = true"},
		{storage.AggregateSpec{GroupBy: []string{"g"}, Aggs: []storage.Agg{{Op: storage.Sum, Property: "n"}, {Op: storage.Avg, Property: "n"}, {Op: storage.Min, Property: "n"}, {Op: storage.Max, Property: "n"}}}, "true"},
		{storage.AggregateSpec{GroupBy: []string{"g", "h"}, Aggs: []storage.Agg{{Op: storage.Sum, Property: "m"}, {Op: storage.Min, Property: "m"}, {Op: storage.Max, Property: "m"}}}, "keep = true"},
		{storage.AggregateSpec{GroupBy: []string{"missing"}, Aggs: []storage.Agg{{Op: storage.Sum, Property: "nothing"}}}, "true"},
		{storage.AggregateSpec{GroupBy: []string{"g"}}, "h = 'x' AND g IS NOT NULL"},
	} {
		b, err := query.ParseBound(x.q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ag.Aggregate(ctx, b, x.spec)
		if err != nil {
			t.Fatalf("%q %v: %v", x.q, x.spec, err)
		}
		states, err := coll.FetchStates(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := storage.AggregateStates(states, nil, x.spec)
		if err != nil {
			t.Fatal(err)
		}
		if len(x.spec.GroupBy) == 0 && len(want) == 0 {
			want = []storage.GroupResult{{Key: []value.Value{}, Accs: make([]storage.Acc, len(x.spec.Aggs))}}
		}
		if g, w := groupText(got, x.spec), groupText(want, x.spec); g != w {
			t.Errorf("%q %v:\n got %s\nwant %s", x.q, x.spec, g, w)
		}
	}
}

// TestAggregate_DeclinesWhatSQLCannotDo: min of a property holding bytes is
// not pushed down (the node then scans), and says so with ErrNotPushedDown.
func TestAggregate_DeclinesWhatSQLCannotDo(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	mustApply(t, e, create(genesis("agg", "b"), map[string]value.Value{"b": value.Bytes([]byte{1, 2})}))
	coll, err := e.Collection(ctx, "agg")
	if err != nil {
		t.Fatal(err)
	}
	_, err = coll.(storage.Aggregator).Aggregate(ctx, &query.Bound{Limit: -1}, storage.AggregateSpec{Aggs: []storage.Agg{{Op: storage.Min, Property: "b"}}})
	if !errors.Is(err, storage.ErrNotPushedDown) {
		t.Fatal(err)
	}
}

// TestAggregate_LiveOnPostgres: a node on PostgreSQL takes its live
// aggregates' initial values from SQL and keeps them current through
// creates, edits and deletes (min and max re-read per group when their
// extreme leaves), equal after every commit to a fresh aggregate.
func TestAggregate_LiveOnPostgres(t *testing.T) {
	ctx := context.Background()
	n, err := core.NewNode(ctx, openEngine(t), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := n.Context(nil)
	spec := core.AggregateSpec{GroupBy: []string{"genre"}, Aggs: []core.Agg{core.SumOf("price"), core.MinOf("price"), core.MaxOf("price"), core.AvgOf("price")}}
	rng := rand.New(rand.NewPCG(5, 6))
	set := func(m *core.Mut) {
		must(t, m.Set("genre", []any{"rock", "jazz", nil}[rng.IntN(3)]))
		must(t, m.Set("price", []any{1, 2, 2.5, 10, nil}[rng.IntN(5)]))
	}
	var ids []id.EntityID
	trx := c.Begin()
	var muts []*core.Mut
	for range 10 {
		m, err := trx.Create(ctx, "item")
		must(t, err)
		set(m)
		muts = append(muts, m)
	}
	must(t, trx.Commit(ctx))
	for _, m := range muts {
		ids = append(ids, m.ID())
	}
	la, err := c.Aggregate(ctx, "item", spec, "price IS NOT NULL OR genre = 'rock'")
	must(t, err)
	defer la.Close()
	count, err := c.Count(ctx, "item", "true")
	must(t, err)
	defer count.Close()
	if !la.Pushdown() || !count.Pushdown() {
		t.Fatal("not pushed down to SQL")
	}
	for step := range 40 {
		trx := c.Begin()
		var created *core.Mut
		switch r := rng.IntN(4); {
		case r == 0 || len(ids) < 3:
			m, err := trx.Create(ctx, "item")
			must(t, err)
			set(m)
			created = m
		case r == 1:
			i := rng.IntN(len(ids))
			must(t, trx.Delete(ctx, "item", ids[i]))
			ids = slices.Delete(ids, i, i+1)
		default:
			m, err := trx.Edit(ctx, "item", ids[rng.IntN(len(ids))])
			must(t, err)
			set(m)
		}
		must(t, trx.Commit(ctx))
		if created != nil {
			ids = append(ids, created.ID())
		}
		vs, err := c.Fetch(ctx, "item", "price IS NOT NULL OR genre = 'rock'")
		must(t, err)
		want := fresh(spec, vs)
		if got := liveText(la.Groups()); got != want {
			t.Fatalf("step %d:\n got %s\nwant %s", step, got, want)
		}
		if count.Count() != int64(len(ids)) {
			t.Fatalf("step %d: count %d, want %d", step, count.Count(), len(ids))
		}
	}
}

func fresh(spec core.AggregateSpec, vs []*core.View) string {
	states := make([]entityValues, len(vs))
	for i, v := range vs {
		states[i] = v.Fields()
	}
	gs := map[string]*core.Group{}
	accs := map[string][]storage.Acc{}
	var keys []string
	for _, s := range states {
		key := spec.KeyOf(s)
		k := storage.GroupKey(key)
		if gs[k] == nil {
			gs[k] = &core.Group{Key: key}
			accs[k] = make([]storage.Acc, len(spec.Aggs))
			keys = append(keys, k)
		}
		gs[k].Count++
		for i, a := range spec.Aggs {
			accs[k][i].AddValue(a.Op, s.Get(a.Property))
		}
	}
	var out []core.Group
	for _, k := range keys {
		g := gs[k]
		for i, a := range spec.Aggs {
			g.Values = append(g.Values, accs[k][i].Result(a.Op))
		}
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b core.Group) int { return storage.CompareKeys(a.Key, b.Key) })
	return liveText(out)
}

type entityValues = value.Fields

func liveText(gs []core.Group) string {
	var sb strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&sb, "%s n=%d %s; ", valsText(g.Key), g.Count, valsText(g.Values))
	}
	return sb.String()
}

func posInfF() float64 { return math.Inf(1) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
