package memory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// randomValue draws from a small pool of mixed kinds, so that equal values
// of different kinds (1 and 1.0), NULL, missing properties and values of
// kinds a term never matches all occur often.
func randomValue(r *rand.Rand) (value.Value, bool) {
	switch r.IntN(12) {
	case 0:
		return value.Value{}, false // missing
	case 1:
		return value.Null, true
	case 2:
		return value.Bool(r.IntN(2) == 0), true
	case 3, 4:
		return value.Int(int64(r.IntN(7) - 2)), true
	case 5:
		return value.Float(float64(r.IntN(7)-2) + []float64{0, 0.5, -0.25}[r.IntN(3)]), true
	case 6, 7:
		return value.String([]string{"", "a", "ab", "abc", "b", "ba", "a\x00", "1"}[r.IntN(8)]), true
	case 8:
		return value.Bytes([]byte{byte(r.IntN(3))}), true
	case 9:
		return value.MustJSON([]string{`1`, `"a"`, `null`, `{"k":1}`, `[1,2]`}[r.IntN(5)]), true
	default:
		return value.Int(int64(r.IntN(3))), true
	}
}

// literal renders a value drawn by randomValue as an AnkQL operand: a
// placeholder bound to it, so every kind can be written.
func randomOperand(r *rand.Rand, args *[]any) string {
	v, ok := randomValue(r)
	if !ok || r.IntN(8) == 0 {
		return "NULL"
	}
	*args = append(*args, v)
	return "?"
}

var diffProps = []string{"a", "b", "c"}

// randomQuery builds a selection over the properties a, b (indexed) and c
// (not indexed) with terms indexes serve and terms they do not.
func randomQuery(r *rand.Rand) (string, []any) {
	var args []any
	term := func() string {
		p := diffProps[r.IntN(len(diffProps))]
		switch r.IntN(10) {
		case 0, 1:
			return p + " = " + randomOperand(r, &args)
		case 2:
			return p + " " + []string{"<", "<=", ">", ">=", "!="}[r.IntN(5)] + " " + randomOperand(r, &args)
		case 3:
			n := 1 + r.IntN(3)
			ops := make([]string, n)
			for i := range ops {
				ops[i] = randomOperand(r, &args)
			}
			not := ""
			if r.IntN(4) == 0 {
				not = "NOT "
			}
			return p + " " + not + "IN (" + strings.Join(ops, ", ") + ")"
		case 4:
			pat := []string{"a%", "a", "ab%", "%b", "a_", "", "%"}[r.IntN(7)]
			args = append(args, pat)
			return p + " LIKE ?"
		case 5:
			if r.IntN(2) == 0 {
				return p + " IS NULL"
			}
			return p + " IS NOT NULL"
		case 6:
			return "(" + p + " = " + randomOperand(r, &args) + " OR " + p + " > " + randomOperand(r, &args) + ")"
		case 7:
			return "NOT " + p + " < " + randomOperand(r, &args)
		case 8:
			return p + " > " + randomOperand(r, &args) + " AND " + p + " < " + randomOperand(r, &args)
		default:
			return []string{"true", "false"}[r.IntN(2)]
		}
	}
	terms := make([]string, 1+r.IntN(3))
	for i := range terms {
		terms[i] = term()
	}
	q := strings.Join(terms, " AND ")
	if r.IntN(2) == 0 {
		var order []string
		for range 1 + r.IntN(2) {
			o := diffProps[r.IntN(len(diffProps))]
			if r.IntN(2) == 0 {
				o += " DESC"
			}
			order = append(order, o)
		}
		q += " ORDER BY " + strings.Join(order, ", ")
	}
	if r.IntN(2) == 0 {
		q += fmt.Sprintf(" LIMIT %d", r.IntN(6))
	}
	return q, args
}

func randomState(r *rand.Rand, eid id.EntityID, head event.Clock) entity.State {
	vals := map[string]value.Value{}
	for _, p := range diffProps {
		if v, ok := randomValue(r); ok {
			vals[p] = v
		}
	}
	return entity.State{ID: eid, Collection: "t", Head: head, Values: value.FieldsOf(vals)}
}

func ids(states []entity.State) []id.EntityID {
	out := make([]id.EntityID, len(states))
	for i, s := range states {
		out[i] = s.ID
	}
	return out
}

// TestFetchStates_IndexedAgreesWithFullScan is a differential test: the
// same random writes go to an engine with indexes on a and b (one declared
// before the writes, one after some) and to one without indexes, and random
// queries must return the same states in the same order from both.
func TestFetchStates_IndexedAgreesWithFullScan(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			indexed, plain := New(), New()
			if err := indexed.DeclareIndex(ctx, storage.Index{Collection: "t", Property: "a"}); err != nil {
				t.Fatal(err)
			}
			ci, _ := indexed.Collection(ctx, "t")
			cp, _ := plain.Collection(ctx, "t")
			var eids []id.EntityID
			heads := map[id.EntityID]event.Clock{}
			write := func() {
				var b storage.Batch
				for range 1 + r.IntN(4) {
					var eid id.EntityID
					if len(eids) == 0 || r.IntN(3) == 0 {
						g := genesis("t", fmt.Sprint(seed, "-", len(eids), "-", r.Uint64()))
						eid = g.Entity
						eids = append(eids, eid)
					} else {
						eid = eids[r.IntN(len(eids))]
					}
					if slices.ContainsFunc(b.States, func(w storage.StateWrite) bool { return w.State.ID == eid }) {
						continue
					}
					var h id.EventID
					h[0], h[1] = byte(r.Uint32()), byte(r.Uint32())
					head := event.NewClock(h)
					b.States = append(b.States, storage.StateWrite{State: randomState(r, eid, head), Expected: heads[eid]})
					heads[eid] = head
				}
				for _, e := range []*Engine{indexed, plain} {
					if err := e.Apply(ctx, &b); err != nil {
						t.Fatal(err)
					}
				}
			}
			for step := range 300 {
				if step == 100 {
					if err := indexed.DeclareIndex(ctx, storage.Index{Collection: "t", Property: "b"}); err != nil {
						t.Fatal(err)
					}
				}
				write()
				q, args := randomQuery(r)
				sel, err := query.ParseBound(q, args...)
				if err != nil {
					t.Fatalf("%s %v: %v", q, args, err)
				}
				want, werr := cp.FetchStates(ctx, sel)
				got, gerr := ci.FetchStates(ctx, sel)
				if (werr != nil) != (gerr != nil) {
					t.Fatalf("step %d: %s %v: error %v, full scan error %v", step, q, args, gerr, werr)
				}
				if !slices.Equal(ids(got), ids(want)) {
					plan, _ := indexed.Explain(ctx, "t", sel)
					t.Fatalf("step %d: %s %v (%s):\n got %v\nwant %v", step, q, args, plan, values(got), values(want))
				}
			}
		})
	}
}

func values(states []entity.State) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = fmt.Sprintf("%x:a=%v,b=%v", s.ID[:2], s.Values.Get("a"), s.Values.Get("b"))
	}
	return out
}

func TestExplain_PicksTheIndexThatServesTheQuery(t *testing.T) {
	ctx := context.Background()
	e := New()
	for _, p := range []string{"year", "name"} {
		if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		q    string
		args []any
		want string
	}{
		{"year = ?", []any{1999}, `index "year", 1 ranges, forward`},
		{"year IN (?, ?, ?)", []any{1, 2, 2.0}, `index "year", 2 ranges, forward`},
		{"year > ? ORDER BY year DESC LIMIT 3", []any{1}, `index "year", 1 ranges, reverse, serves the order`},
		{"artist = ? ORDER BY name LIMIT 3", []any{"x"}, `index "name", 1 ranges, forward, serves the order`},
		{"name LIKE ? AND year = ?", []any{"Ab%", 3}, `index "year", 1 ranges, forward`},
		{"name LIKE ?", []any{"Ab%"}, `index "name", 1 ranges, forward`},
		{"year != ?", []any{1}, "full scan"},
		{"year = ? OR name = ?", []any{1, "x"}, "full scan"},
		{"meta.year = ?", []any{1}, "full scan"},
		{"artist = ?", []any{"x"}, "full scan"},
	} {
		sel, err := query.ParseBound(tc.q, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Explain(ctx, "album", sel)
		if err != nil || got != tc.want {
			t.Errorf("Explain(%s) = %q, %v; want %q", tc.q, got, err, tc.want)
		}
	}
}

func TestIndex_FollowsUpdatesAndClear(t *testing.T) {
	ctx := context.Background()
	e := New()
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "c", Property: "n"}); err != nil {
		t.Fatal(err)
	}
	g := genesis("c", "a")
	s1 := state(g, 1)
	if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: s1}}}); err != nil {
		t.Fatal(err)
	}
	s2 := state(g, 2)
	s2.Head = event.NewClock(id.EventID{9})
	if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: s2, Expected: s1.Head}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := e.Collection(ctx, "c")
	count := func(q string, args ...any) int {
		t.Helper()
		sel, err := query.ParseBound(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.FetchStates(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if n := count("n = ?", 1); n != 0 {
		t.Errorf("n = 1 after the update: %d states, want 0 (the old entry stayed)", n)
	}
	if n := count("n = ?", 2.0); n != 1 {
		t.Errorf("n = 2.0 after the update: %d states, want 1", n)
	}
	if got := e.colls["c"].indexes["n"].len(); got != 1 {
		t.Errorf("index holds %d entries, want 1", got)
	}
	if err := e.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count("n = ?", 2); n != 0 {
		t.Errorf("n = 2 after Clear: %d states, want 0", n)
	}
	if got := e.colls["c"].indexes["n"].len(); got != 0 {
		t.Errorf("index holds %d entries after Clear, want 0", got)
	}
}

func TestKeySet_StaysSortedThroughSplitsAndRemovals(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var s keySet
	ref := map[string]bool{}
	for i := range 20000 {
		k := fmt.Sprintf("%05d", r.IntN(5000))
		if r.IntN(3) == 0 {
			if s.remove(k) != ref[k] {
				t.Fatalf("op %d: remove(%s) disagrees with the reference", i, k)
			}
			delete(ref, k)
		} else {
			if s.insert(k) == ref[k] {
				t.Fatalf("op %d: insert(%s) disagrees with the reference", i, k)
			}
			ref[k] = true
		}
	}
	var want []string
	for k := range ref {
		want = append(want, k)
	}
	slices.Sort(want)
	var got []string
	s.ascend("", "", true, func(k string) bool { got = append(got, k); return true })
	if !slices.Equal(got, want) || s.len() != len(want) {
		t.Fatalf("ascend gives %d keys (len %d), want %d", len(got), s.len(), len(want))
	}
	var down []string
	s.descend("01000", "02000", false, func(k string) bool { down = append(down, k); return true })
	var wantDown []string
	for _, k := range slices.Backward(want) {
		if k >= "01000" && k < "02000" {
			wantDown = append(wantDown, k)
		}
	}
	if !slices.Equal(down, wantDown) {
		t.Fatalf("descend [01000, 02000) gives %d keys, want %d", len(down), len(wantDown))
	}
	for _, b := range s.blocks {
		if len(b) == 0 || len(b) > maxBlock {
			t.Fatalf("block of %d keys", len(b))
		}
	}
}
