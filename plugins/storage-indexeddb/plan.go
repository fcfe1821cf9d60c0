package indexeddb

import (
	"bytes"
	"slices"

	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// keyRange is a range of keyenc-encoded values of one property. A nil Lo
// or Hi is unbounded on that side.
type keyRange struct {
	Lo, Hi         []byte
	LoOpen, HiOpen bool
}

// plan is how FetchStates reads a collection: a full scan when Property is
// empty; otherwise the entities whose indexed Property falls in one of
// Ranges (every entity when Ranges is nil). When Ordered is set, the scan
// walks the index in the order of the selection's first ORDER BY term
// (Reverse for DESC) and may stop at the limit.
type plan struct {
	Property string
	Ranges   []keyRange
	Ordered  bool
	Reverse  bool
}

// makePlan chooses how to answer sel given the collection's indexed
// properties. The plan only narrows candidates: the residual filter still
// checks the whole predicate, so any plan gives the same answer.
func makePlan(sel *query.Bound, indexed map[string]bool) plan {
	terms := query.Conjuncts(sel.Where)
	if len(sel.OrderBy) > 0 && sel.HasLimit() {
		o := sel.OrderBy[0]
		if len(o.Path) == 1 && indexed[o.Path.Property()] {
			p := plan{Property: o.Path.Property(), Ordered: true, Reverse: o.Desc}
			for _, t := range terms {
				if rs, ok := termRanges(t, p.Property); ok && len(rs) == 1 {
					p.Ranges = rs
					break
				}
			}
			return p
		}
	}
	best, bestRank := plan{}, 0
	for _, t := range terms {
		prop, ok := termProperty(t)
		if !ok || !indexed[prop] {
			continue
		}
		rs, ok := termRanges(t, prop)
		if !ok {
			continue
		}
		// Points beat lists of points, which beat ranges.
		rank := 1
		if isPoints(rs) {
			rank = 2
			if len(rs) == 1 {
				rank = 3
			}
		}
		if rank > bestRank {
			best, bestRank = plan{Property: prop, Ranges: rs}, rank
		}
	}
	return best
}

func isPoints(rs []keyRange) bool {
	for _, r := range rs {
		if r.Lo == nil || r.LoOpen || r.HiOpen || !bytes.Equal(r.Lo, r.Hi) {
			return false
		}
	}
	return true
}

// termProperty returns the property a comparison or IN term is about, when
// it is a whole property (not a path into JSON).
func termProperty(t query.Expr) (string, bool) {
	switch t := t.(type) {
	case *query.Comparison:
		if len(t.Path) == 1 {
			return t.Path.Property(), true
		}
	case *query.In:
		if len(t.Path) == 1 {
			return t.Path.Property(), true
		}
	}
	return "", false
}

// termRanges returns the encoded-value ranges holding every value of prop
// that can satisfy t, when t is a comparison or IN on prop that an index
// serves. A comparison only matches values of the literal's kind (numbers
// together), so ranges stay within that kind.
func termRanges(t query.Expr, prop string) ([]keyRange, bool) {
	if p, ok := termProperty(t); !ok || p != prop {
		return nil, false
	}
	switch t := t.(type) {
	case *query.Comparison:
		v := t.Value.Value
		if t.Value.Placeholder >= 0 || v.IsNull() {
			return nil, false
		}
		k := keyenc.Key(v)
		lo, hi := keyenc.KindRange(v.Kind())
		switch t.Op {
		case query.Eq:
			return []keyRange{{Lo: k, Hi: k}}, true
		case query.Lt:
			return []keyRange{{Lo: lo, Hi: k, HiOpen: true}}, true
		case query.Le:
			return []keyRange{{Lo: lo, Hi: k}}, true
		case query.Gt:
			return []keyRange{{Lo: k, LoOpen: true, Hi: hi, HiOpen: true}}, true
		case query.Ge:
			return []keyRange{{Lo: k, Hi: hi, HiOpen: true}}, true
		}
	case *query.In:
		if t.Not {
			return nil, false
		}
		var keys [][]byte
		for _, o := range t.Values {
			if o.Placeholder >= 0 {
				return nil, false
			}
			if o.Value.Kind() == value.KindNull {
				continue // x IN (NULL, …) never matches through NULL
			}
			keys = append(keys, keyenc.Key(o.Value))
		}
		slices.SortFunc(keys, bytes.Compare)
		keys = slices.CompactFunc(keys, bytes.Equal)
		rs := make([]keyRange, len(keys))
		for i, k := range keys {
			rs[i] = keyRange{Lo: k, Hi: k}
		}
		return rs, true
	}
	return nil, false
}
