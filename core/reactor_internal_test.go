package core

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// The range index finds exactly the queries a brute-force check of every
// range term finds, over values of mixed kinds.
func TestRangeIndex_MatchesExactlyTheHoldingTerms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randValue := func() value.Value {
		switch rng.IntN(5) {
		case 0:
			return value.Int(int64(rng.IntN(20) - 10))
		case 1:
			return value.Float(float64(rng.IntN(40))/2 - 10)
		case 2:
			return value.String(string(rune('a' + rng.IntN(10))))
		case 3:
			return value.Bool(rng.IntN(2) == 0)
		}
		return value.Null
	}
	ops := []query.Op{query.Lt, query.Le, query.Gt, query.Ge}
	ri := &rangeIndex{}
	terms := map[*LiveQuery]rangeTerm{}
	for i := 0; i < 300; i++ {
		v := randValue()
		if v.IsNull() {
			continue
		}
		lq := &LiveQuery{}
		rt := rangeTerm{op: ops[rng.IntN(4)], val: v}
		ri.add(lq, rt)
		terms[lq] = rt
	}
	// Remove some, as closing live queries does.
	n := 0
	for lq := range terms {
		if n++; n%7 == 0 {
			ri.remove(lq)
			delete(terms, lq)
		}
	}
	for i := 0; i < 2000; i++ {
		v := randValue()
		got := map[*LiveQuery]int{}
		ri.match(v, func(lq *LiveQuery) { got[lq]++ })
		for lq, rt := range terms {
			want := inRange(rt, v)
			if want != (got[lq] > 0) || got[lq] > 1 {
				t.Fatalf("value %v, term %v %v: brute force %v, index hit %d times", v, rt.op, rt.val, want, got[lq])
			}
		}
		if len(got) > len(terms) {
			t.Fatalf("hits for removed queries")
		}
	}
}

// LIMITed live queries of one caller and selection share one hidden query;
// it ends with its last member, and the node's Close ends every member.
func TestReactor_GroupEndsWithItsLastMember(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	c := n.Context(nil)
	var lqs []*LiveQuery
	for i := 0; i < 3; i++ {
		lq, err := c.Query(ctx, "row", "true ORDER BY n LIMIT 2")
		if err != nil {
			t.Fatal(err)
		}
		lqs = append(lqs, lq)
	}
	indexed := func() int {
		n.reactor.mu.Lock()
		defer n.reactor.mu.Unlock()
		return len(n.reactor.where)
	}
	if got := indexed(); got != 1 {
		t.Fatalf("%d queries indexed for three of one selection, want 1 (their group's)", got)
	}
	lqs[0].Close()
	lqs[1].Close()
	if got := indexed(); got != 1 {
		t.Fatalf("%d indexed with one member left, want 1", got)
	}
	lqs[2].Close()
	n.reactor.mu.Lock()
	groups, where := len(n.reactor.groups), len(n.reactor.where)
	n.reactor.mu.Unlock()
	if groups != 0 || where != 0 {
		t.Fatalf("after the last member closed: %d groups, %d indexed queries; want none", groups, where)
	}
	lq, err := c.Query(ctx, "row", "true ORDER BY n LIMIT 2")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	lq.mu.Lock()
	closed := lq.closed
	lq.mu.Unlock()
	if !closed {
		t.Fatal("a grouped live query is still open after the node closed")
	}
}

// A LIMITed range query with a full window is held by its window's
// boundary, not in the range list; one whose window is not full stays there.
func TestReactor_FullWindowsAreHeldByTheirBoundary(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := n.Context(nil)
	trx := c.Begin()
	for i := 0; i < 20; i++ {
		m, _ := trx.Create(ctx, "row")
		if err := m.Set("n", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for q := 0; q < 5; q++ {
		if _, err := c.Query(ctx, "row", "n >= ? ORDER BY n LIMIT 3", q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Query(ctx, "row", "n >= 19 ORDER BY n LIMIT 3"); err != nil { // one row: not full
		t.Fatal(err)
	}
	n.reactor.mu.Lock()
	w := n.reactor.colls["row"]
	bounded, ranged := 0, w.ranges["n"].len()
	for _, bi := range w.bounded {
		bounded += len(bi.entries)
	}
	n.reactor.mu.Unlock()
	if bounded != 5 || ranged != 1 {
		t.Fatalf("%d windows held by their boundary and %d queries in the range list; want 5 and 1", bounded, ranged)
	}
}

// Opening and closing LIMITed live queries with no commit in between
// leaves nothing behind in the reactor's list of windows to settle.
func TestReactor_ClosedQueriesLeaveNoWindowToSettle(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := n.Context(nil)
	trx := c.Begin()
	for i := 0; i < 10; i++ {
		m, _ := trx.Create(ctx, "row")
		if err := m.Set("n", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		lq, err := c.Query(ctx, "row", "n > ? ORDER BY n LIMIT 2", i%12)
		if err != nil {
			t.Fatal(err)
		}
		lq.Close()
	}
	if got := n.reactor.bdirty.len(); got != 0 {
		t.Fatalf("%d closed live queries still wait to be settled", got)
	}
}

// Inspect counts a silent group member's rows from its group's result.
func TestInspect_CountsAGroupMembersRows(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := n.Context(nil)
	lq, err := c.Query(ctx, "row", "true ORDER BY n LIMIT 5")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		trx := c.Begin()
		m, _ := trx.Create(ctx, "row")
		if err := m.Set("n", i); err != nil {
			t.Fatal(err)
		}
		if err := trx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := lq.info().Items; got != 3 || len(lq.Items()) != 3 {
		t.Fatalf("Inspect counts %d rows, Items has %d; want 3", got, len(lq.Items()))
	}
}
