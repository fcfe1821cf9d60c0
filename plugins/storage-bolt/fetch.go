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
	"github.com/ankurah/ankurah-go/core/storage/indexplan"
)

// FetchStates returns exactly the states matching sel, in its order and
// limited to its limit. It scans a declared index when one serves a term of
// the top-level AND or the first ORDER BY term, else every state; every
// candidate is then checked by the compiled predicate and the result is
// finished by storage.Residual. A stored state that does not decode is
// skipped and reported through storage.ReportBadRow.
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
		visit := func(valKey, eid, raw []byte) (bool, error) {
			if boundary != nil && !bytes.Equal(valKey, boundary) {
				return true, nil
			}
			s, err := entity.Decode(raw)
			if err != nil {
				// One bad row must not make the collection unreadable.
				c.e.skip(ctx, c.name, "state", eid, err)
				return false, nil
			}
			ok, err := prog.Match(s.Values)
			if err != nil {
				return false, fmt.Errorf("filter on %s/%s: %w", c.name, s.ID, err)
			}
			if !ok {
				return false, nil
			}
			out = append(out, s)
			if p.Ordered && sel.HasLimit() && int64(len(out)) == sel.Limit {
				boundary = slices.Clone(valKey)
			}
			return false, nil
		}
		if p.Property == "" {
			return scanStates(b, visit)
		}
		return scanIndex(b, p, visit)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: fetch from %q: %w", c.name, err)
	}
	return storage.Residual(out, nil, sel.OrderBy, sel.Limit)
}

// plan picks the scan for sel over collection bucket b among its declared
// indexes. A full scan visits states by entity id, so without an ORDER BY
// it already yields them in the residual's order (Ordered is set).
func plan(b *bbolt.Bucket, sel *query.Bound) indexplan.Plan {
	declared := b.Bucket(subDeclared)
	p := indexplan.Choose(sel, func(prop string) bool { return declared.Get([]byte(prop)) != nil })
	if p.Property == "" {
		p.Ordered = len(sel.OrderBy) == 0
	}
	return p
}

// visitFunc is called with a candidate's value key (its tie group), entity
// id and stored state; it returns true to stop the scan.
type visitFunc func(valKey, eid, raw []byte) (bool, error)

// scanStates visits every state in entity-id order. The entity id stands
// for the value key: every id is its own tie group.
func scanStates(b *bbolt.Bucket, visit visitFunc) error {
	return forEachState(b.Bucket(subStates), func(k, raw []byte) (bool, error) { return visit(k, k, raw) })
}

// scanIndex visits the states whose indexed values fall in p's spans, in
// index order (value, then entity id), backwards when p.Desc.
func scanIndex(b *bbolt.Bucket, p indexplan.Plan, visit visitFunc) error {
	states := b.Bucket(subStates)
	cur := b.Bucket(subIndex).Cursor()
	prefix := keyenc.AppendString(nil, p.Property)
	spans := p.Spans
	if p.Desc {
		spans = slices.Clone(spans)
		slices.Reverse(spans)
	}
	one := func(k []byte) (bool, error) {
		if len(k) < len(prefix)+id.Size {
			return false, fmt.Errorf("index entry %x of %q is too short: %w", k, p.Property, storage.ErrFormat)
		}
		valKey, eid := k[len(prefix):len(k)-id.Size], k[len(k)-id.Size:]
		raw := states.Get(eid)
		if raw == nil {
			return false, fmt.Errorf("index %q names entity %x, which is not stored: %w", p.Property, eid, storage.ErrFormat)
		}
		return visit(valKey, eid, raw)
	}
	for _, s := range spans {
		lo := append(slices.Clip(prefix), s.Lo...)
		hi := keyenc.PrefixEnd(prefix)
		if s.Hi != nil {
			hi = append(slices.Clip(prefix), s.Hi...)
		}
		if !p.Desc {
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
		out = explain(plan(b, sel))
		return nil
	})
	return out, err
}

// explain renders a plan for Explain; a full scan goes by entity id.
func explain(p indexplan.Plan) string {
	if p.Property != "" {
		return p.String()
	}
	if p.Ordered {
		return "full scan by entity id, serves the order"
	}
	return "full scan by entity id"
}
