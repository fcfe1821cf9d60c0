package kv

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/indexplan"
)

// FetchStates returns exactly the states matching sel, in its order, limited
// to its LIMIT. storage/indexplan picks a ready index whose terms narrow the
// scan to key ranges, or whose order serves the first ORDER BY term (then a
// LIMIT stops the scan after its last tie group); every candidate is
// re-checked by the compiled selection, so the answer is the same with or
// without indexes. Memory holds the answer (or, for an ordered LIMIT no index
// serves, the best rows so far), never the whole collection. A stored state
// that does not decode is skipped and reported through storage.ReportBadRow.
func (c *Collection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	if sel == nil {
		return nil, fmt.Errorf("%s: fetch from %s: nil selection: %w", c.e.cfg.name, c.name, storage.ErrInvalid)
	}
	prog, err := query.Compile(sel, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: fetch from %s: %w: %w", c.e.cfg.name, c.name, storage.ErrInvalid, err)
	}
	var out []entity.State
	err = c.e.view(ctx, func(r Reader) error {
		if sel.Limit == 0 && mutant != mutLimitZeroUnlimited {
			return nil
		}
		p, err := c.plan(ctx, r, sel)
		if err != nil {
			return err
		}
		limit := sel.Limit
		if mutant == mutLimitZeroUnlimited && limit == 0 {
			limit = -1
		}
		col := &collector{prog: prog, order: sel.OrderBy, limit: limit, stream: p.Ordered}
		if p.Property == "" {
			err = c.scanStates(ctx, r, col)
		} else {
			err = c.scanIndex(ctx, r, p, col)
		}
		if err != nil {
			return err
		}
		out = col.result()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: fetch from %s: %w", c.e.cfg.name, c.name, err)
	}
	if out == nil {
		out = []entity.State{}
	}
	return out, nil
}

// plan picks the scan among the collection's ready indexes. A full scan
// visits states by entity id, so without an ORDER BY it already yields them
// in the answer's order (Ordered is set).
func (c *Collection) plan(ctx context.Context, r Reader, sel *query.Bound) (indexplan.Plan, error) {
	decls, err := c.e.indexDecls(ctx, r, c.name)
	if err != nil {
		return indexplan.Plan{}, err
	}
	p := indexplan.Choose(sel, func(prop string) bool { return decls[prop] == indexReady })
	if p.Property == "" {
		p.Ordered = len(sel.OrderBy) == 0
	}
	if mutant == mutDescIgnored {
		p.Desc = false
	}
	return p, nil
}

// Explain describes how FetchStates would read sel from a collection: which
// declared index it scans and over how many value ranges, in which
// direction, and whether a LIMIT can stop the scan early; or a full scan.
func (e *Engine) Explain(ctx context.Context, collection string, sel *query.Bound) (string, error) {
	if sel == nil {
		return "", fmt.Errorf("%s: explain on %q: nil selection: %w", e.cfg.name, collection, storage.ErrInvalid)
	}
	var out string
	err := e.view(ctx, func(r Reader) error {
		p, err := (&Collection{e: e, name: collection}).plan(ctx, r, sel)
		switch {
		case err != nil:
			return err
		case p.Property != "":
			out = p.String()
		case p.Ordered:
			out = "full scan by entity id, serves the order"
		default:
			out = "full scan by entity id"
		}
		return nil
	})
	return out, err
}

// scanStates feeds every state of the collection to col, in entity-id order.
func (c *Collection) scanStates(ctx context.Context, r Reader, col *collector) error {
	prefix := c.e.keys.coll(tagState, c.name, 0)
	err := r.Scan(ctx, prefix, keyenc.PrefixEnd(prefix), false, func(k, v []byte) (bool, error) {
		if len(k) != len(prefix)+id.Size {
			return false, fmt.Errorf("state key %x of %s: %w", k, c.name, storage.ErrFormat)
		}
		eid, _ := trailingID(k)
		s, err := entity.Decode(v)
		if err != nil {
			c.e.skip(ctx, c.name, kindState, eid[:], err)
			return false, nil
		}
		if err := col.add(s, nil); err != nil {
			return false, err
		}
		return col.done, ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("scanning %s: %w", c.name, err)
	}
	return nil
}

// keyRange is the key range [start, end).
type keyRange struct{ start, end []byte }

// ranges turns a plan's spans of value encodings into key ranges of the
// index ix, widened where encodings are longer than index keys keep.
func ranges(ix []byte, spans []indexplan.Span) []keyRange {
	out := make([]keyRange, 0, len(spans))
	for _, s := range spans {
		r := keyRange{start: append(slices.Clip(ix), cut(s.Lo)...), end: keyenc.PrefixEnd(ix)}
		if mutant == mutSpanLoExclusive && s.Lo != nil {
			r.start = keyenc.PrefixEnd(append(slices.Clip(ix), s.Lo...))
		}
		switch {
		case s.Hi == nil:
		case len(s.Hi) <= MaxIndexedValue || mutant == mutLongBoundNotWidened:
			r.end = append(slices.Clip(ix), s.Hi...)
		default:
			// Entries below Hi may share its first MaxIndexedValue bytes.
			if end := keyenc.PrefixEnd(append(slices.Clip(ix), s.Hi[:MaxIndexedValue]...)); end != nil {
				r.end = end
			}
		}
		// Widening can make neighbours overlap (two long values that share
		// their kept prefix): merge them, or a scan would read entries twice.
		if n := len(out); n > 0 && bytes.Compare(r.start, out[n-1].end) <= 0 && mutant != mutSpansNotMerged {
			if bytes.Compare(r.end, out[n-1].end) > 0 {
				out[n-1].end = r.end
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// scanIndex walks p's index ranges (last first when p.Desc) and feeds the
// states of the entries to col, reading them a batch at a time.
func (c *Collection) scanIndex(ctx context.Context, r Reader, p indexplan.Plan, col *collector) error {
	ix := c.e.keys.index(c.name, p.Property)
	rs := ranges(ix, p.Spans)
	if p.Desc && mutant != mutSpansNotReversed {
		slices.Reverse(rs)
	}
	if mutant == mutOnlyFirstSpan && len(rs) > 1 {
		rs = rs[:1]
	}
	batch := make([][]byte, 0, c.e.cfg.batch) // state keys
	groups := make([][]byte, 0, c.e.cfg.batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		vals, err := getMany(ctx, r, batch)
		if err != nil {
			return fmt.Errorf("reading %s: %w", c.name, err)
		}
		for i, v := range vals {
			if v == nil || col.done {
				continue // an index entry never outlives its state in one snapshot
			}
			s, err := entity.Decode(v)
			if err != nil {
				eid, _ := trailingID(batch[i])
				c.e.skip(ctx, c.name, kindState, eid[:], err)
				continue
			}
			if err := col.add(s, groups[i]); err != nil {
				return err
			}
		}
		batch, groups = batch[:0], groups[:0]
		return nil
	}
	for _, kr := range rs {
		err := r.Scan(ctx, kr.start, kr.end, p.Desc, func(k, _ []byte) (bool, error) {
			if len(k) < len(ix)+id.Size {
				return false, fmt.Errorf("index entry %x of %s.%s is too short: %w", k, c.name, p.Property, storage.ErrFormat)
			}
			eid, _ := trailingID(k)
			batch = append(batch, c.e.keys.state(c.name, eid))
			groups = append(groups, slices.Clone(k[len(ix):len(k)-id.Size]))
			if len(batch) == cap(batch) && mutant != mutLastBatchDropped {
				if err := flush(); err != nil {
					return false, err
				}
			} else if len(batch) == cap(batch) {
				batch, groups = batch[:0], groups[:0]
			}
			return col.done, ctx.Err()
		})
		if err != nil {
			return fmt.Errorf("scanning index %s.%s: %w", c.name, p.Property, err)
		}
		if mutant != mutLastBatchDropped {
			if err := flush(); err != nil {
				return err
			}
		}
		if col.done {
			return nil
		}
	}
	return nil
}

// collector keeps the matching candidates and produces the answer.
type collector struct {
	prog   query.Program
	order  []query.Order
	limit  int64 // < 0: none
	stream bool  // candidates arrive in answer order, grouped by the first order term
	out    []entity.State
	group  []entity.State // stream with ORDER BY: the run of candidates with one index value
	groupK []byte         // that run's index value (encoded, perhaps cut)
	done   bool           // the answer is complete; stop scanning
}

// add offers a candidate; groupKey is the value part of its index key when
// the candidates come from an index in order.
func (c *collector) add(s entity.State, groupKey []byte) error {
	if c.done {
		return nil
	}
	ok, err := c.prog.Match(s.Values)
	if err != nil {
		return fmt.Errorf("filter on %s: %w", s.ID, err)
	}
	if !ok && mutant != mutLimitCountsUnmatched {
		return nil
	}
	switch {
	case c.stream && len(c.order) == 0: // entity-id order: the scan order
		if ok {
			c.out = append(c.out, s)
		}
		c.done = c.limit >= 0 && int64(len(c.out)) >= c.limit
		if mutant == mutLimitCountsUnmatched && !ok {
			c.limit--
		}
	case c.stream:
		// Keys sort by value, so a run of equal keys holds the equal values
		// (and, past MaxIndexedValue, the values that share the kept prefix).
		if len(c.group) > 0 && !bytes.Equal(c.groupK, groupKey) || mutant == mutTieGroupCut {
			c.flushGroup()
			if c.done {
				return nil
			}
		}
		if ok {
			c.group, c.groupK = append(c.group, s), groupKey
		}
	default:
		if !ok {
			return nil
		}
		c.out = append(c.out, s)
		if c.limit >= 0 && int64(len(c.out)) >= 2*c.limit+64 {
			// Keep only the best LIMIT rows so far: memory stays O(LIMIT).
			n := len(c.out)
			c.out, _ = storage.Residual(c.out, nil, c.order, c.limit) // no program: cannot fail
			clear(c.out[len(c.out):n])
		}
	}
	return nil
}

// flushGroup sorts the current run (its first order term is equal, so the
// later terms and the entity id decide) and appends it to the answer.
func (c *collector) flushGroup() {
	storage.SortStates(c.group, c.order)
	c.out = append(c.out, c.group...)
	c.group = c.group[:0]
	c.done = c.limit >= 0 && int64(len(c.out)) >= c.limit
}

func (c *collector) result() []entity.State {
	if c.stream {
		c.flushGroup()
	}
	c.out, _ = storage.Residual(c.out, nil, c.order, c.limit) // sorts and limits; no program: cannot fail
	return c.out
}
