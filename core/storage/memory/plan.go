package memory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// An index holds one entry per stored state of its collection: the
// order-preserving encoding of the state's value of the indexed property
// (keyenc; a missing property is NULL) followed by the entity id's bytes.
// keyenc encodings are prefix-free, so entries sort by value, then by id,
// and a range of encoded values is a range of entries.

// indexEntry returns the index entry of a state for property prop.
func indexEntry(s *entity.State, prop string) string {
	k := keyenc.Append(make([]byte, 0, 16+id.Size), s.Values[prop])
	return string(append(k, s.ID[:]...))
}

// scanPlan is how FetchStates reads candidates: an index scan over spans of
// one property's encoded values, or (property "") every state.
type scanPlan struct {
	property string
	spans    []span
	desc     bool
	// ordered: candidates arrive in the selection's order as far as its
	// first ORDER BY term, so a LIMIT can stop the scan early.
	ordered bool
}

// span is a range [lo, hi) of encoded values; open means no upper bound.
type span struct {
	lo, hi string
	open   bool
}

// constraint is what the conjuncts on one property allow: sorted, disjoint
// spans; points when every span is one value (from = and IN).
type constraint struct {
	spans  []span
	points bool
}

// plan picks the scan for sel given the collection's indexed properties.
// Every term an index serves is still checked by the compiled program
// afterwards: spans only narrow the candidates, never decide a match.
func plan(indexed func(prop string) bool, sel *query.Bound) scanPlan {
	cons := map[string]*constraint{}
	for _, term := range query.Conjuncts(sel.Where) {
		prop, c, ok := termSpans(term)
		if !ok || !indexed(prop) {
			continue
		}
		if prev, seen := cons[prop]; seen {
			c = constraint{spans: intersect(prev.spans, c.spans), points: prev.points || c.points}
		}
		cons[prop] = &c
	}

	var orderProp string
	desc := false
	if len(sel.OrderBy) > 0 && len(sel.OrderBy[0].Path) == 1 && indexed(sel.OrderBy[0].Path[0]) {
		orderProp, desc = sel.OrderBy[0].Path[0], sel.OrderBy[0].Desc
	}

	// The most selective guess first: the fewest point lookups. Ties go to
	// the index that also serves the order, then by name, so the plan does
	// not depend on map order.
	best := ""
	for prop, c := range cons {
		if !c.points {
			continue
		}
		if best == "" || len(c.spans) < len(cons[best].spans) {
			best = prop
			continue
		}
		if len(c.spans) == len(cons[best].spans) && best != orderProp && (prop == orderProp || prop < best) {
			best = prop
		}
	}
	switch {
	case best != "":
	case orderProp != "":
		best = orderProp
	case len(cons) > 0:
		for prop := range cons {
			if best == "" || prop < best {
				best = prop
			}
		}
	default:
		return scanPlan{}
	}
	p := scanPlan{property: best, spans: []span{{open: true}}, ordered: best == orderProp}
	if c, ok := cons[best]; ok {
		p.spans = c.spans
	}
	if p.ordered {
		p.desc = desc
	}
	return p
}

// termSpans translates one conjunct on a top-level property into spans of
// encoded values that hold every row the term can match. ok is false for
// terms an index cannot narrow (!=, NOT IN, IS NULL, OR, NOT, JSON paths).
func termSpans(term query.Expr) (prop string, c constraint, ok bool) {
	switch t := term.(type) {
	case *query.Comparison:
		if len(t.Path) != 1 {
			return "", c, false
		}
		v := t.Value.Value
		if t.Op == query.Like {
			s, isString := v.AsString()
			if !isString {
				return t.Path[0], constraint{points: true}, true // LIKE on a non-string is never true
			}
			prefix, exact := query.LikePrefix(s)
			if exact {
				return t.Path[0], constraint{spans: []span{point(value.String(prefix))}, points: true}, true
			}
			lo := keyenc.AppendStringPrefix(nil, prefix)
			return t.Path[0], constraint{spans: []span{{lo: string(lo), hi: string(keyenc.PrefixEnd(lo))}}}, true
		}
		if v.IsNull() {
			return t.Path[0], constraint{points: true}, true // a comparison with NULL is never true
		}
		k := keyenc.Key(v)
		kindLo, kindHi := keyenc.KindRange(v.Kind())
		var s span
		switch t.Op {
		case query.Eq:
			return t.Path[0], constraint{spans: []span{point(v)}, points: true}, true
		case query.Lt:
			s = span{lo: string(kindLo), hi: string(k)}
		case query.Le:
			s = span{lo: string(kindLo), hi: string(keyenc.PrefixEnd(k))}
		case query.Gt:
			s = span{lo: string(keyenc.PrefixEnd(k)), hi: string(kindHi)}
		case query.Ge:
			s = span{lo: string(k), hi: string(kindHi)}
		default:
			return "", c, false
		}
		return t.Path[0], constraint{spans: []span{s}}, true
	case *query.In:
		if t.Not || len(t.Path) != 1 {
			return "", c, false
		}
		var spans []span
		for _, o := range t.Values {
			if !o.Value.IsNull() {
				spans = append(spans, point(o.Value))
			}
		}
		slices.SortFunc(spans, func(a, b span) int { return strings.Compare(a.lo, b.lo) })
		spans = slices.CompactFunc(spans, func(a, b span) bool { return a.lo == b.lo })
		return t.Path[0], constraint{spans: spans, points: true}, true
	}
	return "", c, false
}

// point is the span of the encodings of one value (and of every value
// value.Compare calls equal to it: Int(1) and Float(1) share a key).
func point(v value.Value) span {
	k := keyenc.Key(v)
	return span{lo: string(k), hi: string(keyenc.PrefixEnd(k))}
}

// intersect intersects two sorted lists of disjoint spans.
func intersect(a, b []span) []span {
	var out []span
	for len(a) > 0 && len(b) > 0 {
		lo := max(a[0].lo, b[0].lo)
		hi, aEndsFirst := a[0], true
		if before(b[0], a[0]) {
			hi, aEndsFirst = b[0], false
		}
		if hi.open || lo < hi.hi {
			out = append(out, span{lo: lo, hi: hi.hi, open: hi.open})
		}
		if aEndsFirst {
			a = a[1:]
		} else {
			b = b[1:]
		}
	}
	return out
}

// before reports whether x's upper bound is below y's.
func before(x, y span) bool {
	switch {
	case x.open:
		return false
	case y.open:
		return true
	}
	return x.hi < y.hi
}

// String renders the plan for Explain.
func (p scanPlan) String() string {
	if p.property == "" {
		return "full scan"
	}
	dir := "forward"
	if p.desc {
		dir = "reverse"
	}
	s := fmt.Sprintf("index %q, %d ranges, %s", p.property, len(p.spans), dir)
	if p.ordered {
		s += ", serves the order"
	}
	return s
}
