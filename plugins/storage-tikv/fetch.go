package tikv

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tikv/client-go/v2/txnkv/txnsnapshot"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// FetchStates returns exactly the states matching sel, in its order, limited
// to its LIMIT. Terms on indexed properties narrow the scan to key ranges;
// every candidate is re-checked by the compiled selection, so the answer is
// the same with or without indexes. Memory holds the answer (or, for an
// ordered LIMIT that no index serves, the best LIMIT rows so far), never the
// whole collection. A stored state that does not decode is skipped and
// reported through storage.ReportBadRow.
func (c *Collection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	if sel == nil {
		return nil, fmt.Errorf("%w: tikv: nil selection", storage.ErrInvalid)
	}
	prog, err := query.Compile(sel, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: tikv: fetching from %s: %w", storage.ErrInvalid, c.name, err)
	}
	snap, err := c.e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if sel.Limit == 0 {
		return []entity.State{}, nil
	}
	decls, err := c.e.indexDecls(snapIter(snap), c.name)
	if err != nil {
		return nil, err
	}
	indexes := map[string][]byte{}
	for p, st := range decls {
		if st == indexReady {
			indexes[p] = c.e.keys.index(c.name, p)
		}
	}
	p := makePlan(sel, indexes)
	col := &collector{prog: prog, order: sel.OrderBy, limit: sel.Limit, stream: p.stream}
	if p.prop == "" {
		err = c.scanStates(ctx, snap, col)
	} else {
		err = c.scanIndex(ctx, snap, p, col)
	}
	if err != nil {
		return nil, err
	}
	return col.result(), nil
}

func snapIter(snap *txnsnapshot.KVSnapshot) iterFunc {
	return func(k, upper []byte) (iterator, error) { return snap.Iter(k, upper) }
}

// scanStates feeds every state of the collection to col, in entity-id order.
func (c *Collection) scanStates(ctx context.Context, snap *txnsnapshot.KVSnapshot, col *collector) error {
	prefix := c.e.keys.coll(tagState, c.name, 0)
	it, err := snap.Iter(prefix, keyenc.PrefixEnd(prefix))
	if err != nil {
		return fmt.Errorf("tikv: scanning %s: %w", c.name, err)
	}
	defer it.Close()
	for it.Valid() && !col.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		eid, _ := trailingID(it.Key())
		if s, err := c.decodeState(eid, it.Value()); err != nil {
			c.e.skip(ctx, c.name, kindState, eid[:], err)
		} else if err := col.add(s, nil); err != nil {
			return err
		}
		if err := it.Next(); err != nil {
			return fmt.Errorf("tikv: scanning %s: %w", c.name, err)
		}
	}
	return nil
}

// scanIndex walks p's index ranges and feeds the states of the entries to
// col, fetching them a batch at a time.
func (c *Collection) scanIndex(ctx context.Context, snap *txnsnapshot.KVSnapshot, p plan, col *collector) error {
	batch := make([]id.EntityID, 0, c.e.cfg.batch)
	groups := make([][]byte, 0, c.e.cfg.batch) // the value part of each candidate's index key
	ixLen := len(c.e.keys.index(c.name, p.prop))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ks := make([][]byte, len(batch))
		for i, eid := range batch {
			ks[i] = c.e.keys.state(c.name, eid)
		}
		got, err := snap.BatchGet(ctx, ks)
		if err != nil {
			return fmt.Errorf("tikv: reading %s: %w", c.name, err)
		}
		for i, k := range ks {
			v, ok := got[string(k)]
			if !ok || col.done {
				continue // an index entry never outlives its state in one snapshot; be safe anyway
			}
			s, err := c.decodeState(batch[i], v.Value)
			if err != nil {
				c.e.skip(ctx, c.name, kindState, batch[i][:], err)
				continue
			}
			if err := col.add(s, groups[i]); err != nil {
				return err
			}
		}
		batch, groups = batch[:0], groups[:0]
		return nil
	}
	scan := func(r keyRange) error {
		var it iterator
		var err error
		if p.reverse {
			it, err = snap.IterReverse(r.end, r.start)
		} else {
			it, err = snap.Iter(r.start, r.end)
		}
		if err != nil {
			return fmt.Errorf("tikv: scanning index %s.%s: %w", c.name, p.prop, err)
		}
		defer it.Close()
		for it.Valid() && !col.done {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Key()
			eid, _ := trailingID(k)
			batch = append(batch, eid)
			groups = append(groups, append([]byte(nil), k[ixLen:len(k)-id.Size]...))
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return err
				}
			}
			if err := it.Next(); err != nil {
				return fmt.Errorf("tikv: scanning index %s.%s: %w", c.name, p.prop, err)
			}
		}
		return nil
	}
	for i := range p.ranges {
		r := p.ranges[i]
		if p.reverse {
			r = p.ranges[len(p.ranges)-1-i]
		}
		if err := scan(r); err != nil {
			return err
		}
		if col.done {
			return nil
		}
	}
	return flush()
}

// collector keeps the matching candidates and produces the answer.
type collector struct {
	prog   query.Program
	order  []query.Order
	limit  int64 // < 0: none
	stream bool  // candidates arrive in answer order, grouped by the first order term
	out    []entity.State
	group  []entity.State // stream with ORDER BY: the run of candidates with one index value
	groupK []byte         // that run's index value (encoded, perhaps truncated)
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
		return fmt.Errorf("tikv: filtering %s: %w", s.ID, err)
	}
	if !ok {
		return nil
	}
	switch {
	case c.stream && len(c.order) == 0: // entity-id order: the scan order
		c.out = append(c.out, s)
		c.done = c.limit >= 0 && int64(len(c.out)) >= c.limit
	case c.stream:
		// Index keys sort by value, so a run of equal keys holds the equal
		// values (and, past maxIndexedValue, the values that share the kept
		// prefix): sorting each run by the whole order gives the answer order.
		if len(c.group) > 0 && !bytes.Equal(c.groupK, groupKey) {
			c.flushGroup()
			if c.done {
				return nil
			}
		}
		c.group, c.groupK = append(c.group, s), groupKey
	default:
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
	if c.out == nil {
		c.out = []entity.State{}
	}
	return c.out
}
