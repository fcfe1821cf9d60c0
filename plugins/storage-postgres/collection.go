package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// collection reads one collection's tables.
type collection struct {
	e *Engine
	t *table
}

func (c *collection) Name() string { return c.t.collection }

// GetState returns the stored state of an entity, or storage.ErrNotFound; a
// stored state that does not decode is storage.ErrFormat, naming the entity.
func (c *collection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	if err := c.e.checkOpen(); err != nil {
		return entity.State{}, err
	}
	var b []byte
	err := c.e.pool.QueryRow(ctx, "SELECT state FROM "+c.t.name+" WHERE id = $1", eid[:]).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return entity.State{}, fmt.Errorf("postgres: %q/%s: %w", c.t.collection, eid, storage.ErrNotFound)
	}
	if err != nil {
		return entity.State{}, c.e.wrap(fmt.Errorf("postgres: reading %q/%s: %w", c.t.collection, eid, err))
	}
	s, err := entity.Decode(b)
	if err != nil {
		return entity.State{}, fmt.Errorf("postgres: stored state of %q/%s does not decode (%w; `ankurah admin remove-row` removes it): %w",
			c.t.collection, eid, storage.ErrFormat, err)
	}
	return s, nil
}

var _ storage.ManyReader = (*collection)(nil)

// GetStatesShared returns the stored state of each of ids in one query
// (storage.ManyReader), in the order of ids; an entity not stored gives a
// zero State. A node reads a large commit's entities this way instead of
// one round trip each.
func (c *collection) GetStatesShared(ctx context.Context, ids []id.EntityID) ([]entity.State, error) {
	if err := c.e.checkOpen(); err != nil {
		return nil, err
	}
	out := make([]entity.State, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	at := make(map[id.EntityID]int, len(ids)) // the first place of each id
	keys := make([][]byte, 0, len(ids))
	for i := range ids {
		if _, dup := at[ids[i]]; !dup {
			at[ids[i]] = i
			keys = append(keys, ids[i][:])
		}
	}
	rows, err := c.e.pool.Query(ctx, "SELECT id, state FROM "+c.t.name+" WHERE id = ANY($1::bytea[])", keys)
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: reading %q: %w", c.t.collection, err))
	}
	defer rows.Close()
	for rows.Next() {
		var key, b []byte
		if err := rows.Scan(&key, &b); err != nil {
			return nil, c.e.wrap(fmt.Errorf("postgres: reading %q: %w", c.t.collection, err))
		}
		if len(key) != id.Size {
			continue // not one of ids: they are all id.Size bytes
		}
		eid := id.EntityID(key)
		i, ok := at[eid]
		if !ok {
			continue
		}
		var err error
		if out[i], err = entity.Decode(b); err != nil {
			return nil, fmt.Errorf("postgres: stored state of %q/%s does not decode (%w; `ankurah admin remove-row` removes it): %w",
				c.t.collection, eid, storage.ErrFormat, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: reading %q: %w", c.t.collection, err))
	}
	for i := range ids {
		if first := at[ids[i]]; first != i {
			out[i] = out[first]
		}
	}
	return out, nil
}

// GetEvents returns the stored events among ids; missing ids are omitted,
// and so are events that do not decode (reported through
// storage.ReportBadRow).
func (c *collection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	if err := c.e.checkOpen(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([][]byte, len(ids))
	for i := range ids {
		keys[i] = ids[i][:]
	}
	return c.events(ctx, "SELECT id, event FROM "+c.t.events+" WHERE id = ANY($1::bytea[])", keys)
}

// EntityEvents returns every stored event of an entity, skipping those that
// do not decode as GetEvents does.
func (c *collection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	if err := c.e.checkOpen(); err != nil {
		return nil, err
	}
	return c.events(ctx, "SELECT id, event FROM "+c.t.events+" WHERE entity = $1", eid[:])
}

// events runs q, which selects (id, event) rows, and decodes the events,
// skipping (and reporting) those that do not decode.
func (c *collection) events(ctx context.Context, q string, arg any) ([]event.Event, error) {
	rows, err := c.e.pool.Query(ctx, q, arg)
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: reading events of %q: %w", c.t.collection, err))
	}
	type row struct{ id, event []byte }
	raw, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.event)
		return x, err
	})
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: reading events of %q: %w", c.t.collection, err))
	}
	out := make([]event.Event, 0, len(raw))
	for _, r := range raw {
		ev, err := event.Decode(r.event)
		if err != nil {
			c.e.skip(ctx, c.t.collection, kindEvent, r.id, err)
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

// FetchStates runs the selection: the pushed-down part in SQL, flagged rows
// and whatever could not be pushed down through storage.Residual. A stored
// state that does not decode is skipped and reported through
// storage.ReportBadRow.
func (c *collection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	if err := c.e.checkOpen(); err != nil {
		return nil, err
	}
	if sel == nil {
		sel = &query.Bound{Limit: -1}
	}
	if sel.Limit == 0 {
		return []entity.State{}, nil
	}
	p := plan(c.t, sel)
	var pushed, flagged []entity.State
	var err error
	if p.missing {
		// Some column the query names is not known to exist: read the
		// catalog and the rows in one snapshot, so that a column another
		// engine adds meanwhile is either seen with its rows or not at all.
		err = pgx.BeginTxFunc(ctx, c.e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if err := c.t.loadColumns(ctx, tx); err != nil {
				return err
			}
			p = plan(c.t, sel)
			var err error
			pushed, flagged, _, err = c.runPlan(ctx, tx, p)
			return err
		})
	} else {
		pushed, flagged, _, err = c.runPlan(ctx, c.e.pool, p)
	}
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: fetching from %q: %w", c.t.collection, err))
	}
	if p.exact && len(flagged) == 0 {
		if sel.HasLimit() && int64(len(pushed)) > sel.Limit {
			pushed = pushed[:sel.Limit] // see runPlan
		}
		return pushed, nil
	}
	var prog query.Program
	if !p.whereExact || len(flagged) > 0 {
		if prog, err = query.Compile(sel, nil); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	all := pushed
	if len(flagged) > 0 {
		seen := make(map[id.EntityID]bool, len(pushed))
		for _, s := range pushed {
			seen[s.ID] = true
		}
		for _, s := range flagged {
			if !seen[s.ID] {
				all = append(all, s)
			}
		}
	}
	return storage.Residual(all, prog, sel.OrderBy, sel.Limit)
}

// rowQuerier is what runPlan needs of a pool or transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// runPlan runs a plan's statement and decodes both sets of states,
// skipping the rows that do not decode. When skipped rows leave a LIMIT in
// SQL short, it asks again for as many more rows as were skipped (the order
// is total, ties broken by id, so a longer limit extends the same answer),
// and may then return more than the limit; the bad rows of the last round
// are reported.
func (c *collection) runPlan(ctx context.Context, q rowQuerier, p *sqlPlan) (pushed, flagged []entity.State, third bool, err error) {
	args := p.args
	for {
		var a, b [][]byte
		dest := []any{&a, &b}
		if p.third {
			dest = append(dest, &third)
		}
		if err := q.QueryRow(ctx, p.sql, args...).Scan(dest...); err != nil {
			return nil, nil, false, err
		}
		var bad []storage.BadRow
		if pushed, bad, err = c.decodeRows(a, bad); err != nil {
			return nil, nil, false, err
		}
		skipped := len(bad)
		if flagged, bad, err = c.decodeRows(b, bad); err != nil {
			return nil, nil, false, err
		}
		if p.limitArg >= 0 && skipped > 0 {
			limit, asked := p.args[p.limitArg].(int64), args[p.limitArg].(int64)
			if int64(len(pushed)) < limit && int64(len(a)) == asked {
				args = slices.Clone(args)
				args[p.limitArg] = asked + int64(skipped)
				continue
			}
		}
		for _, r := range bad {
			storage.ReportBadRow(ctx, c.e.log, r)
		}
		return pushed, flagged, third, nil
	}
}

// decodeRows decodes rows selected by rowExpr, appending the ones that do
// not decode to bad.
func (c *collection) decodeRows(raw [][]byte, bad []storage.BadRow) ([]entity.State, []storage.BadRow, error) {
	out := make([]entity.State, 0, len(raw))
	for _, r := range raw {
		key, state, ok := splitRow(r)
		if !ok {
			return nil, bad, fmt.Errorf("postgres: a fetched row of %q of %d bytes is not id and state: %w", c.t.collection, len(r), storage.ErrFormat)
		}
		s, err := entity.Decode(state)
		if err != nil {
			bad = append(bad, storage.BadRow{Collection: c.t.collection, Kind: kindState, Key: key, Err: err})
			continue
		}
		out = append(out, s)
	}
	return out, bad, nil
}

// splitRow splits a row selected by rowExpr into id and state.
func splitRow(b []byte) (key, state []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}
