package tikv

import (
	"bytes"
	"maps"
	"slices"

	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
)

// keyRange is the key range [start, end).
type keyRange struct{ start, end []byte }

// plan is how FetchStates finds its candidates.
type plan struct {
	// prop is the index scanned; "" scans every state of the collection.
	prop string
	// ranges are the parts of the index to scan: ascending and disjoint.
	ranges []keyRange
	// reverse scans the ranges from the end (ORDER BY prop DESC).
	reverse bool
	// stream: candidates arrive in the selection's order (by the first
	// ORDER BY term, or by entity id when there is none), so a LIMIT can
	// stop the scan early.
	stream bool
}

// Strength of a term's ranges, to pick the index to scan.
const (
	strengthNone  = 0
	strengthOpen  = 1 // one-sided range
	strengthRange = 2 // two-sided range or LIKE prefix
	strengthPoint = 3 // =, IN
)

// makePlan picks the index and key ranges for sel among the ready indexes
// (property -> index key prefix). Any plan is correct: candidates are
// re-checked by the compiled program. The plan only decides the cost.
func makePlan(sel *query.Bound, indexes map[string][]byte) plan {
	type cand struct {
		ranges   []keyRange
		strength int
		terms    int
	}
	cands := map[string]*cand{}
	for _, t := range query.Conjuncts(sel.Where) {
		prop, rs, strength := termRanges(t, indexes)
		if strength == strengthNone {
			continue
		}
		c := cands[prop]
		if c == nil {
			ix := indexes[prop]
			c = &cand{ranges: []keyRange{{ix, keyenc.PrefixEnd(ix)}}}
			cands[prop] = c
		}
		c.ranges = intersect(c.ranges, rs)
		c.terms++
		c.strength = max(c.strength, strength)
		if c.terms > 1 {
			c.strength = max(c.strength, strengthRange)
		}
	}

	orderProp, desc := "", false
	if len(sel.OrderBy) > 0 && len(sel.OrderBy[0].Path) == 1 {
		if _, ok := indexes[sel.OrderBy[0].Path.Property()]; ok {
			orderProp, desc = sel.OrderBy[0].Path.Property(), sel.OrderBy[0].Desc
		}
	}
	best := ""
	for _, p := range slices.Sorted(maps.Keys(cands)) {
		if best == "" || cands[p].strength > cands[best].strength ||
			(cands[p].strength == cands[best].strength && p == orderProp) {
			best = p
		}
	}
	indexPlan := func(prop string) plan {
		p := plan{prop: prop}
		if c := cands[prop]; c != nil {
			p.ranges = c.ranges
		} else {
			ix := indexes[prop]
			p.ranges = []keyRange{{ix, keyenc.PrefixEnd(ix)}}
		}
		if prop == orderProp {
			p.stream, p.reverse = true, desc
		}
		return p
	}
	switch {
	case best != "" && cands[best].strength == strengthPoint:
		return indexPlan(best)
	case orderProp != "" && (sel.HasLimit() || cands[orderProp] != nil):
		return indexPlan(orderProp)
	case best != "":
		return indexPlan(best)
	}
	return plan{stream: len(sel.OrderBy) == 0}
}

// termRanges returns the index a conjunct can narrow, the key ranges of that
// index holding every entry the conjunct can match, and how selective they
// are (strengthNone: the term narrows nothing and is left to the program).
func termRanges(t query.Expr, indexes map[string][]byte) (string, []keyRange, int) {
	switch t := t.(type) {
	case *query.Comparison:
		if len(t.Path) != 1 {
			return "", nil, strengthNone
		}
		ix, ok := indexes[t.Path.Property()]
		if !ok {
			return "", nil, strengthNone
		}
		v := t.Value.Value
		if v.IsNull() && t.Op != query.Ne {
			return t.Path.Property(), nil, strengthPoint // a comparison with NULL is never true
		}
		enc := keyenc.Key(v)
		lo, hi := keyenc.KindRange(v.Kind())
		lo, hi = append(slices.Clip(ix), lo...), append(slices.Clip(ix), hi...)
		prop := t.Path.Property()
		switch t.Op {
		case query.Eq:
			return prop, []keyRange{point(ix, enc)}, strengthPoint
		case query.Lt:
			return prop, []keyRange{{lo, below(ix, enc)}}, strengthOpen
		case query.Le:
			return prop, []keyRange{{lo, point(ix, enc).end}}, strengthOpen
		case query.Gt:
			return prop, []keyRange{{above(ix, enc), hi}}, strengthOpen
		case query.Ge:
			return prop, []keyRange{{from(ix, enc), hi}}, strengthOpen
		case query.Like:
			pattern, ok := v.AsString()
			if !ok {
				return "", nil, strengthNone
			}
			prefix, exact := query.LikePrefix(pattern)
			if exact {
				return prop, []keyRange{point(ix, enc)}, strengthPoint
			}
			return prop, []keyRange{point(ix, keyenc.AppendStringPrefix(nil, prefix))}, strengthRange
		}
	case *query.In:
		if t.Not || len(t.Path) != 1 {
			return "", nil, strengthNone
		}
		ix, ok := indexes[t.Path.Property()]
		if !ok {
			return "", nil, strengthNone
		}
		var rs []keyRange
		for _, o := range t.Values {
			if o.Value.IsNull() {
				continue // x IN (…, NULL) never matches through the NULL
			}
			rs = append(rs, point(ix, keyenc.Key(o.Value)))
		}
		return t.Path.Property(), normalize(rs), strengthPoint
	}
	return "", nil, strengthNone
}

// Bounds in index ix for a value encoding enc (or an encoding prefix),
// widened where enc is longer than index keys keep (maxIndexedValue).

// from is the first key of an entry whose value encodes at or after enc.
func from(ix, enc []byte) []byte { return append(slices.Clip(ix), truncated(enc)...) }

// point is the range of the entries whose value encoding starts with enc.
func point(ix, enc []byte) keyRange {
	start := from(ix, enc)
	return keyRange{start, keyenc.PrefixEnd(start)}
}

// above is the first key of an entry whose value encodes after enc.
func above(ix, enc []byte) []byte {
	if len(enc) > maxIndexedValue {
		return from(ix, enc)
	}
	return point(ix, enc).end
}

// below is the end of the entries whose value encodes before enc.
func below(ix, enc []byte) []byte {
	if len(enc) > maxIndexedValue {
		return point(ix, enc).end
	}
	return from(ix, enc)
}

// normalize sorts ranges and merges the overlapping ones, dropping empty ones.
func normalize(rs []keyRange) []keyRange {
	rs = slices.DeleteFunc(rs, func(r keyRange) bool { return bytes.Compare(r.start, r.end) >= 0 })
	slices.SortFunc(rs, func(a, b keyRange) int { return bytes.Compare(a.start, b.start) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && bytes.Compare(r.start, out[n-1].end) <= 0 {
			if bytes.Compare(r.end, out[n-1].end) > 0 {
				out[n-1].end = r.end
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// intersect returns the keys in both a and b (each ascending and disjoint).
func intersect(a, b []keyRange) []keyRange {
	var out []keyRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		start := a[i].start
		if bytes.Compare(b[j].start, start) > 0 {
			start = b[j].start
		}
		end := a[i].end
		if bytes.Compare(b[j].end, end) < 0 {
			end = b[j].end
		}
		if bytes.Compare(start, end) < 0 {
			out = append(out, keyRange{start, end})
		}
		if bytes.Compare(a[i].end, b[j].end) < 0 {
			i++
		} else {
			j++
		}
	}
	return out
}
