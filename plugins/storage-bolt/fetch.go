package bolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// FetchStates returns exactly the states matching sel, in its order and
// limited to its limit. It scans a declared index when one serves a term of
// the top-level AND or the first ORDER BY term, else every state; every
// candidate is then checked by the compiled predicate and the result is
// finished by storage.Residual.
func (c *Collection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	if sel == nil {
		return nil, fmt.Errorf("bolt: fetch from %q: nil selection: %w", c.name, storage.ErrInvalid)
	}
	prog, err := query.Compile(sel, nil)
	if err != nil {
		return nil, fmt.Errorf("bolt: fetch from %q: %w", c.name, err)
	}
	if sel.Limit == 0 {
		return nil, nil
	}
	var out []entity.State
	err = c.e.view(ctx, func(tx *bbolt.Tx) error {
		b := collectionBucket(tx, c.name)
		if b == nil {
			return nil
		}
		p := plan(b, sel)
		// Once the limit is reached, an index scan that serves the order
		// finishes the tie group of the last value, then stops: the residual
		// sort breaks those ties (and orders by any later ORDER BY terms).
		var boundary []byte
		visit := func(valKey []byte, raw []byte) (bool, error) {
			if boundary != nil && !bytes.Equal(valKey, boundary) {
				return true, nil
			}
			s, err := entity.Decode(raw)
			if err != nil {
				return false, fmt.Errorf("stored state of %s: %w", c.name, err)
			}
			ok, err := prog.Match(s.Values)
			if err != nil {
				return false, fmt.Errorf("filter on %s/%s: %w", c.name, s.ID, err)
			}
			if !ok {
				return false, nil
			}
			out = append(out, s)
			if p.ordered && sel.HasLimit() && int64(len(out)) == sel.Limit {
				boundary = slices.Clone(valKey)
			}
			return false, nil
		}
		if p.property == "" {
			return scanStates(b, visit)
		}
		return scanIndex(b, p, visit)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: fetch from %q: %w", c.name, err)
	}
	return storage.Residual(out, nil, sel.OrderBy, sel.Limit)
}

// scanPlan is how FetchStates reads candidates: an index scan over spans of
// one property's encoded values, or (property "") every state by entity id.
type scanPlan struct {
	property string
	spans    []span
	desc     bool
	// ordered: candidates arrive in the selection's order as far as its
	// first ORDER BY term (by id when there is none), so a LIMIT can stop
	// the scan early.
	ordered bool
}

// span is a range [lo, hi) of encoded values; a nil hi is unbounded.
type span struct{ lo, hi []byte }

// constraint is what the conjuncts on one property allow: sorted, disjoint
// spans; points when every span is one value (from = and IN).
type constraint struct {
	spans  []span
	points bool
}

// plan picks the scan for sel over collection bucket b.
func plan(b *bbolt.Bucket, sel *query.Bound) scanPlan {
	declared := b.Bucket(subDeclared)
	indexed := func(p query.Path) bool { return len(p) == 1 && declared.Get([]byte(p[0])) != nil }

	cons := map[string]*constraint{}
	for _, term := range query.Conjuncts(sel.Where) {
		prop, c, ok := termSpans(term)
		if !ok || !indexed(query.Path{prop}) {
			continue
		}
		if prev, seen := cons[prop]; seen {
			c = constraint{spans: intersect(prev.spans, c.spans), points: prev.points || c.points}
		}
		cons[prop] = &c
	}

	var orderProp string
	desc := false
	if len(sel.OrderBy) > 0 && indexed(sel.OrderBy[0].Path) {
		orderProp, desc = sel.OrderBy[0].Path[0], sel.OrderBy[0].Desc
	}
	unordered := len(sel.OrderBy) == 0

	// The most selective guess first: the fewest point lookups.
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
		return scanPlan{ordered: unordered}
	}
	p := scanPlan{property: best, spans: []span{{}}, ordered: best == orderProp}
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
			return t.Path[0], constraint{spans: []span{{lo, keyenc.PrefixEnd(lo)}}}, true
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
			s = span{kindLo, k}
		case query.Le:
			s = span{kindLo, keyenc.PrefixEnd(k)}
		case query.Gt:
			s = span{keyenc.PrefixEnd(k), kindHi}
		case query.Ge:
			s = span{k, kindHi}
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
		slices.SortFunc(spans, func(a, b span) int { return bytes.Compare(a.lo, b.lo) })
		spans = slices.CompactFunc(spans, func(a, b span) bool { return bytes.Equal(a.lo, b.lo) })
		return t.Path[0], constraint{spans: spans, points: true}, true
	}
	return "", c, false
}

// point is the span of the keys of one value.
func point(v value.Value) span {
	k := keyenc.Key(v)
	return span{k, keyenc.PrefixEnd(k)}
}

// intersect intersects two sorted lists of disjoint spans.
func intersect(a, b []span) []span {
	var out []span
	for len(a) > 0 && len(b) > 0 {
		lo := a[0].lo
		if bytes.Compare(b[0].lo, lo) > 0 {
			lo = b[0].lo
		}
		hi, aEndsFirst := a[0].hi, true
		if before(b[0].hi, a[0].hi) {
			hi, aEndsFirst = b[0].hi, false
		}
		if hi == nil || bytes.Compare(lo, hi) < 0 {
			out = append(out, span{lo, hi})
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

// scanStates visits every state in entity-id order. The entity id stands
// for the value key: every id is its own tie group.
func scanStates(b *bbolt.Bucket, visit func(valKey, raw []byte) (bool, error)) error {
	return forEachState(b.Bucket(subStates), visit)
}

// scanIndex visits the states whose indexed values fall in p's spans, in
// index order (value, then entity id), backwards when p.desc.
func scanIndex(b *bbolt.Bucket, p scanPlan, visit func(valKey, raw []byte) (bool, error)) error {
	states := b.Bucket(subStates)
	cur := b.Bucket(subIndex).Cursor()
	prefix := keyenc.AppendString(nil, p.property)
	spans := p.spans
	if p.desc {
		spans = slices.Clone(spans)
		slices.Reverse(spans)
	}
	one := func(k []byte) (bool, error) {
		if len(k) < len(prefix)+id.Size {
			return false, fmt.Errorf("index entry %x of %q is too short: %w", k, p.property, storage.ErrFormat)
		}
		valKey, eid := k[len(prefix):len(k)-id.Size], k[len(k)-id.Size:]
		raw := states.Get(eid)
		if raw == nil {
			return false, fmt.Errorf("index %q names entity %x, which is not stored: %w", p.property, eid, storage.ErrFormat)
		}
		return visit(valKey, raw)
	}
	for _, s := range spans {
		lo := append(slices.Clip(prefix), s.lo...)
		hi := keyenc.PrefixEnd(prefix)
		if s.hi != nil {
			hi = append(slices.Clip(prefix), s.hi...)
		}
		if !p.desc {
			for k, _ := cur.Seek(lo); k != nil && bytes.Compare(k, hi) < 0; k, _ = cur.Next() {
				if stop, err := one(k); err != nil || stop {
					return err
				}
			}
			continue
		}
		k, _ := cur.Seek(hi)
		if k == nil {
			k, _ = cur.Last()
		} else {
			k, _ = cur.Prev()
		}
		for ; k != nil && bytes.Compare(k, lo) >= 0; k, _ = cur.Prev() {
			if stop, err := one(k); err != nil || stop {
				return err
			}
		}
	}
	return nil
}

// Explain describes how FetchStates would read sel from a collection: which
// declared index it scans and over how many value ranges, in which direction,
// and whether a LIMIT can stop the scan early; or a full scan.
func (e *Engine) Explain(ctx context.Context, collection string, sel *query.Bound) (string, error) {
	if sel == nil {
		return "", fmt.Errorf("bolt: explain on %q: nil selection: %w", collection, storage.ErrInvalid)
	}
	var out string
	err := e.view(ctx, func(tx *bbolt.Tx) error {
		b := collectionBucket(tx, collection)
		if b == nil {
			out = "empty collection"
			return nil
		}
		out = plan(b, sel).String()
		return nil
	})
	return out, err
}

// String renders the plan for Explain.
func (p scanPlan) String() string {
	var s string
	if p.property == "" {
		s = "full scan by entity id"
	} else {
		dir := "forward"
		if p.desc {
			dir = "reverse"
		}
		s = fmt.Sprintf("index %q, %d ranges, %s", p.property, len(p.spans), dir)
	}
	if p.ordered {
		s += ", serves the order"
	}
	return s
}
