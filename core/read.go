package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Get returns an entity. A deleted entity, or one the caller may not read,
// is storage.ErrNotFound (a caller never learns of entities it may not read).
func (c *Context) Get(ctx context.Context, collection string, eid id.EntityID) (*View, error) {
	if c.node.isClosed.Load() {
		return nil, ErrClosed
	}
	if err := c.node.role.refreshEntities(ctx, c, collection, eid); err != nil {
		return nil, err
	}
	st, err := c.get(ctx, collection, eid)
	if err != nil {
		return nil, err
	}
	return newView(*st), nil
}

func (c *Context) get(ctx context.Context, collection string, eid id.EntityID) (*entity.State, error) {
	return c.getState(ctx, collection, eid, false)
}

// getState reads an entity the caller may read; a deleted one only when
// deleted is set (ErrDeleted otherwise).
func (c *Context) getState(ctx context.Context, collection string, eid id.EntityID, deleted bool) (*entity.State, error) {
	n := c.node
	if err := n.canAccess(ctx, c.cdata, collection); err != nil {
		return nil, err
	}
	coll, err := n.readCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	// Shared with the engine when it can: callers only read it (a view
	// copies what it hands out, an edit builds new states).
	st, err := getStored(ctx, coll, eid)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s in %q", storage.ErrNotFound, eid, collection)
		}
		return nil, err
	}
	if st.Deleted() && !deleted {
		return nil, fmt.Errorf("%w: %s in %q (%w)", storage.ErrNotFound, eid, collection, ErrDeleted)
	}
	if err := n.agent.CheckRead(ctx, c.cdata, &st); err != nil {
		return nil, fmt.Errorf("%w: %s in %q", storage.ErrNotFound, eid, collection)
	}
	return &st, nil
}

// Fetch reads the entities of collection matching an AnkQL query once,
// binding ? placeholders to args in order. An After option after the
// arguments continues after a cursor (as FetchPage); includes are refused
// with ErrInclude: FetchIncluding returns rows with their includes.
func (c *Context) Fetch(ctx context.Context, collection, q string, args ...any) ([]*View, error) {
	args, opts := splitOptions(args)
	sel, err := query.Parse(q)
	if err != nil {
		return nil, err
	}
	b, err := sel.Bind(args...)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		if _, ok := o.(IncludeOption); ok {
			return nil, fmt.Errorf("%w: Fetch returns the rows only; FetchIncluding returns them with their includes", ErrInclude)
		}
	}
	if b, err = withAfter(b, opts); err != nil {
		return nil, err
	}
	return c.FetchBound(ctx, collection, b)
}

// FetchBound is Fetch for an already bound selection.
func (c *Context) FetchBound(ctx context.Context, collection string, b *query.Bound) ([]*View, error) {
	if c.node.isClosed.Load() {
		return nil, ErrClosed
	}
	if err := checkAfter(b); err != nil {
		return nil, err
	}
	b = query.RefArguments(b, collection, &c.node.rels)
	if err := c.node.role.refreshSelection(ctx, c, collection, b); err != nil {
		return nil, err
	}
	states, err := c.fetchStates(ctx, collection, b)
	if err != nil {
		return nil, err
	}
	return views(states), nil
}

func views(states []entity.State) []*View {
	out := make([]*View, len(states))
	for i, s := range states {
		out[i] = newView(s)
	}
	return out
}

// effective narrows a selection to what the caller may read and to entities
// that are not deleted (keeping its cursor, which the node applies itself:
// fetchStates never hands it to an engine).
func (c *Context) effective(ctx context.Context, collection string, b *query.Bound) (*query.Bound, error) {
	n := c.node
	if err := n.canAccess(ctx, c.cdata, collection); err != nil {
		return nil, err
	}
	filter, err := n.agent.ReadFilter(ctx, c.cdata, collection)
	if err != nil {
		return nil, err
	}
	terms := []query.Expr{b.Where}
	if filter != nil {
		terms = append(terms, filter)
	}
	terms = append(terms, &query.IsNull{Path: query.Path{entity.DeletedProperty}})
	return &query.Bound{Where: &query.And{Terms: terms}, OrderBy: b.OrderBy, Limit: b.Limit, After: b.After}, nil
}

// fetchStates reads the states of collection that selection b matches and
// this caller may read (effective), in b's order.
func (c *Context) fetchStates(ctx context.Context, collection string, b *query.Bound) ([]entity.State, error) {
	eff, err := c.effective(ctx, collection, b)
	if err != nil {
		return nil, err
	}
	return c.fetchEffective(ctx, collection, eff)
}

// fetchEffective is fetchStates for a selection that effective already
// made (a live query's or a live aggregate's eff): its read filter and
// deletion term are not added a second time, which would evaluate each of
// them twice on every state.
func (c *Context) fetchEffective(ctx context.Context, collection string, eff *query.Bound) ([]entity.State, error) {
	if err := c.node.canAccess(ctx, c.cdata, collection); err != nil {
		return nil, err
	}
	b := eff // the caller's selection: effective keeps its order, limit and cursor
	coll, err := c.node.readCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	// A traversal reaches the engine as sets of referenced ids, or whole
	// when it evaluates traversals itself; exact decides (relations.go).
	eff, exact, fetch, err := c.planTraversal(ctx, collection, eff, coll)
	if err != nil {
		return nil, err
	}
	// Rows the agent's per-row check refuses are dropped after the engine's
	// LIMIT; ask for more until the limit is filled or the rows run out.
	limit := eff.Limit
	if eff.After != nil {
		engine := *eff
		engine.After = nil
		eff = &engine
	}
	if b.After != nil {
		if seek := b.After.Seek(b.OrderBy); seek != nil {
			next := *eff
			next.Where = &query.And{Terms: []query.Expr{eff.Where, seek}}
			// The seek starts at the cursor's own row (when it is still
			// there), which the exact bound drops: one more fills the page.
			if next.Limit >= 0 {
				next.Limit++
			}
			eff = &next
		}
	}
	for {
		states, err := fetch(ctx, eff)
		if err != nil {
			return nil, fmt.Errorf("ankurah: fetch from %q: %w", collection, err)
		}
		out := states[:0]
		for i := range states {
			if b.After != nil && !b.After.Before(b.OrderBy, states[i].Values, states[i].ID) {
				continue
			}
			if (exact == nil || c.exactMatch(ctx, exact, &states[i])) && c.node.agent.CheckRead(ctx, c.cdata, &states[i]) == nil {
				out = append(out, states[i])
			}
		}
		if limit < 0 || int64(len(out)) >= limit || int64(len(states)) < eff.Limit {
			if limit >= 0 && int64(len(out)) > limit {
				out = out[:limit]
			}
			return out, nil
		}
		next := *eff
		next.Limit = max(eff.Limit*2, limit+16)
		eff = &next
	}
}

// fetchFrom returns how to read a selection's states from coll: without
// copies when the engine can share its stored states (storage.SharedReader).
// The node only reads a fetched state — views copy what they hand out, and a
// state to change is built anew (applyEvent) — so sharing is safe.
func fetchFrom(coll storage.Collection) fetcher {
	if sr, ok := coll.(storage.SharedReader); ok {
		return sr.FetchStatesShared
	}
	return coll.FetchStates
}

// getStored reads an entity's stored state to compare or replace it, shared
// with the engine as by fetchFrom when it can: the caller never modifies it.
func getStored(ctx context.Context, coll storage.Collection, eid id.EntityID) (entity.State, error) {
	if sr, ok := coll.(storage.SharedReader); ok {
		return sr.GetStateShared(ctx, eid)
	}
	return coll.GetState(ctx, eid)
}
