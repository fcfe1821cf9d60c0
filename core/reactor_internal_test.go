package core

import (
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/core/query"
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
