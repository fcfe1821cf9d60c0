package postgres

import (
	"context"
	"errors"
	"fmt"

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
	return decodeState(b)
}

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
	return c.events(ctx, "SELECT event FROM "+c.t.events+" WHERE id = ANY($1::bytea[])", keys)
}

func (c *collection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	if err := c.e.checkOpen(); err != nil {
		return nil, err
	}
	return c.events(ctx, "SELECT event FROM "+c.t.events+" WHERE entity = $1", eid[:])
}

func (c *collection) events(ctx context.Context, q string, arg any) ([]event.Event, error) {
	rows, err := c.e.pool.Query(ctx, q, arg)
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: reading events of %q: %w", c.t.collection, err))
	}
	raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: reading events of %q: %w", c.t.collection, err))
	}
	out := make([]event.Event, 0, len(raw))
	for _, b := range raw {
		ev, err := event.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("postgres: stored event of %q: %w", c.t.collection, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// FetchStates runs the selection: the pushed-down part in SQL, flagged rows
// and whatever could not be pushed down through storage.Residual.
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
			pushed, flagged, err = runPlan(ctx, tx, p)
			return err
		})
	} else {
		pushed, flagged, err = runPlan(ctx, c.e.pool, p)
	}
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: fetching from %q: %w", c.t.collection, err))
	}
	if p.exact && len(flagged) == 0 {
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

// runPlan runs a plan's statement and decodes both sets of states.
func runPlan(ctx context.Context, q rowQuerier, p *sqlPlan) (pushed, flagged []entity.State, err error) {
	var a, b [][]byte
	if err := q.QueryRow(ctx, p.sql, p.args...).Scan(&a, &b); err != nil {
		return nil, nil, err
	}
	if pushed, err = decodeStates(a); err != nil {
		return nil, nil, err
	}
	if flagged, err = decodeStates(b); err != nil {
		return nil, nil, err
	}
	return pushed, flagged, nil
}

func decodeStates(raw [][]byte) ([]entity.State, error) {
	out := make([]entity.State, len(raw))
	for i, b := range raw {
		s, err := decodeState(b)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}
