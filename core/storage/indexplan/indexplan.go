// Package indexplan chooses how a storage engine reads candidates for a
// selection from its single-property indexes. It is engine independent:
// given a *query.Bound and the set of indexed top-level properties it
// returns a Plan naming the index to scan, the ranges of keyenc-encoded
// values to read, and whether the scan already yields rows in the
// selection's order. Engines do the scanning themselves.
//
// A plan only narrows the candidates: every term it uses must still be
// checked by the compiled program, so any plan gives the same answer and
// the choice only decides the cost.
package indexplan

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// Span is the range [Lo, Hi) of keyenc encodings of one property's values.
// A nil Lo starts at the first encoding; a nil Hi has no upper bound.
type Span struct {
	Lo, Hi []byte
}

// Plan is how an engine reads the candidates of a selection.
type Plan struct {
	// Property is the indexed property to scan; "" means no index helps
	// and the engine scans every state.
	Property string
	// Spans are the sorted, disjoint ranges of the index to scan, in
	// ascending order (an engine walks them backwards when Desc). A nil or
	// empty list means no row can match; an unconstrained index scan is
	// one Span with nil bounds.
	Spans []Span
	// Ordered: the index serves the selection's first ORDER BY term, so an
	// index scan yields candidates in that order and a LIMIT can stop it
	// once the last tie group is complete.
	Ordered bool
	// Desc: scan the index backwards (the first ORDER BY term is DESC).
	// Only set when Ordered.
	Desc bool
	// Points: every span holds the encodings of exactly one value (the
	// terms were = or IN), so the scan is a set of point lookups.
	Points bool
}

// String renders the plan as engines show it in storage.Explainer's
// Explain (the toolkit's, core/storage/kv, and the memory engine's), for example
// `index "year", 1 ranges, reverse, serves the order` or "full scan".
func (p Plan) String() string {
	if p.Property == "" {
		return "full scan"
	}
	dir := "forward"
	if p.Desc {
		dir = "reverse"
	}
	s := fmt.Sprintf("index %q, %d ranges, %s", p.Property, len(p.Spans), dir)
	if p.Ordered {
		s += ", serves the order"
	}
	return s
}

// constraint is what the conjuncts on one property allow.
type constraint struct {
	spans  []Span
	points bool
}

// Choose picks the scan for sel given which top-level properties have an
// index. It considers the conjuncts of the top-level AND that an index can
// narrow (=, IN, <, <=, >, >=, LIKE with a literal prefix on a top-level
// property, and an OR of those and IS NULL on one property, which a
// pagination seek is) and the first ORDER BY term. The fewest point lookups win; ties
// go to the index that also serves the order, then to the smallest name.
// Without point lookups, the index serving the order wins, then the
// smallest constrained property name. Without any usable index the plan's
// Property is "".
func Choose(sel *query.Bound, indexed func(prop string) bool) Plan {
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

	best := ""
	for prop, c := range cons {
		if !c.points {
			continue
		}
		if best == "" || len(c.spans) < len(cons[best].spans) {
			best = prop
			continue
		}
		// Ties go to the index that also serves the order, then by name, so
		// the plan does not depend on map order.
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
		return Plan{}
	}
	p := Plan{Property: best, Spans: []Span{{}}, Ordered: best == orderProp}
	if c, ok := cons[best]; ok {
		p.Spans, p.Points = c.spans, c.points
	}
	if p.Ordered {
		p.Desc = desc
	}
	return p
}

// termSpans translates one conjunct on a top-level property into spans of
// encoded values that hold every row the term can match. ok is false for
// terms an index cannot narrow (!=, NOT IN, IS NULL alone, NOT, JSON paths,
// an OR across properties or holding such a term).
func termSpans(term query.Expr) (prop string, c constraint, ok bool) {
	switch t := term.(type) {
	case *query.Or:
		return orSpans(t)
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
				return t.Path[0], constraint{spans: []Span{point(value.String(prefix))}, points: true}, true
			}
			lo := keyenc.AppendStringPrefix(nil, prefix)
			return t.Path[0], constraint{spans: []Span{{lo, keyenc.PrefixEnd(lo)}}}, true
		}
		if v.IsNull() {
			return t.Path[0], constraint{points: true}, true // a comparison with NULL is never true
		}
		k := keyenc.Key(v)
		kindLo, kindHi := keyenc.KindRange(v.Kind())
		var s Span
		switch t.Op {
		case query.Eq:
			return t.Path[0], constraint{spans: []Span{point(v)}, points: true}, true
		case query.Lt:
			s = Span{kindLo, k}
		case query.Le:
			s = Span{kindLo, keyenc.PrefixEnd(k)}
		case query.Gt:
			s = Span{keyenc.PrefixEnd(k), kindHi}
		case query.Ge:
			s = Span{k, kindHi}
		default:
			return "", c, false
		}
		return t.Path[0], constraint{spans: []Span{s}}, true
	case *query.In:
		if t.Not || len(t.Path) != 1 {
			return "", c, false
		}
		var spans []Span
		for _, o := range t.Values {
			if !o.Value.IsNull() {
				spans = append(spans, point(o.Value))
			}
		}
		slices.SortFunc(spans, func(a, b Span) int { return bytes.Compare(a.Lo, b.Lo) })
		spans = slices.CompactFunc(spans, func(a, b Span) bool { return bytes.Equal(a.Lo, b.Lo) })
		return t.Path[0], constraint{spans: spans, points: true}, true
	}
	return "", c, false
}

// orSpans narrows an OR whose terms all narrow the same property to the
// union of their spans. IS NULL counts there as the span of NULL (it is not
// narrowed alone: a property's NULLs are usually most of its rows).
func orSpans(o *query.Or) (prop string, c constraint, ok bool) {
	if len(o.Terms) == 0 {
		return "", c, false
	}
	c.points = true
	for _, term := range o.Terms {
		var p string
		var tc constraint
		if n, isNull := term.(*query.IsNull); isNull {
			if n.Not || len(n.Path) != 1 {
				return "", c, false
			}
			p, tc = n.Path[0], constraint{spans: []Span{point(value.Null)}}
		} else if p, tc, ok = termSpans(term); !ok {
			return "", c, false
		}
		if prop != "" && p != prop {
			return "", c, false
		}
		prop = p
		c.spans = append(c.spans, tc.spans...)
		c.points = c.points && tc.points
	}
	if c.points {
		// Each span stays one value's: sorted, duplicates dropped (as IN).
		slices.SortFunc(c.spans, func(a, b Span) int { return bytes.Compare(a.Lo, b.Lo) })
		c.spans = slices.CompactFunc(c.spans, func(a, b Span) bool { return bytes.Equal(a.Lo, b.Lo) })
	} else {
		c.spans = union(c.spans)
	}
	return prop, c, true
}

// union sorts spans and merges those that overlap or touch.
func union(spans []Span) []Span {
	slices.SortFunc(spans, func(a, b Span) int { return bytes.Compare(a.Lo, b.Lo) })
	var out []Span
	for _, s := range spans {
		if n := len(out); n > 0 && (out[n-1].Hi == nil || bytes.Compare(s.Lo, out[n-1].Hi) <= 0) {
			if before(out[n-1].Hi, s.Hi) {
				out[n-1].Hi = s.Hi
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// point is the span of the encodings of one value (and of every value
// value.Compare calls equal to it: Int(1) and Float(1) share a key).
func point(v value.Value) Span {
	k := keyenc.Key(v)
	return Span{k, keyenc.PrefixEnd(k)}
}

// intersect intersects two sorted lists of disjoint spans.
func intersect(a, b []Span) []Span {
	var out []Span
	for len(a) > 0 && len(b) > 0 {
		lo := a[0].Lo
		if bytes.Compare(b[0].Lo, lo) > 0 {
			lo = b[0].Lo
		}
		hi, aEndsFirst := a[0].Hi, true
		if before(b[0].Hi, a[0].Hi) {
			hi, aEndsFirst = b[0].Hi, false
		}
		if hi == nil || bytes.Compare(lo, hi) < 0 {
			out = append(out, Span{lo, hi})
		}
		if aEndsFirst {
			a = a[1:]
		} else {
			b = b[1:]
		}
	}
	return out
}

// before reports whether upper bound x < upper bound y (nil is +infinity).
func before(x, y []byte) bool {
	switch {
	case x == nil:
		return false
	case y == nil:
		return true
	}
	return bytes.Compare(x, y) < 0
}
