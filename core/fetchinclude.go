package core

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// Result is what FetchIncluding returns: the rows of a fetch, and the
// entities its includes asked for.
type Result struct {
	// Items are the rows, as Fetch returns them.
	Items []*View
	// Included holds, by include name, the related entities the caller may
	// read, each include's sorted by id (an include that found none maps
	// to an empty slice).
	Included map[string][]*View
}

// FetchIncluding is Fetch with includes: pass Include and IncludeReverse
// options (and After, to continue after a cursor) after the values of the
// query's placeholders, as for Query. Each include is read once, after
// the rows, as the caller may read it: an entity the caller may not read,
// a deleted one and a reference to nothing are left out, exactly as a
// live query's includes leave them out. On an ephemeral node the rows and
// the related entities are asked of the durable peer first. A fetch is
// one look: the related entities are read after the rows, so a commit
// landing between the two reads may show in one and not the other (a
// live query keeps them consistent, commit by commit).
func (c *Context) FetchIncluding(ctx context.Context, collection, q string, args ...any) (*Result, error) {
	args, opts := splitOptions(args)
	sel, err := query.Parse(q)
	if err != nil {
		return nil, err
	}
	b, err := sel.Bind(args...)
	if err != nil {
		return nil, err
	}
	return c.FetchBoundIncluding(ctx, collection, b, opts...)
}

// FetchBoundIncluding is FetchIncluding for an already bound selection.
func (c *Context) FetchBoundIncluding(ctx context.Context, collection string, b *query.Bound, opts ...QueryOption) (*Result, error) {
	if c.node.isClosed.Load() {
		return nil, ErrClosed
	}
	b, err := withAfter(b, opts)
	if err != nil {
		return nil, err
	}
	specs, err := c.node.resolveIncludes(collection, opts)
	if err != nil {
		return nil, err
	}
	items, err := c.FetchBound(ctx, collection, b)
	if err != nil {
		return nil, err
	}
	res := &Result{Items: items, Included: make(map[string][]*View, len(specs))}
	rd := c.newRefReader(ctx, false)
	for _, s := range specs {
		var states []entity.State
		if s.Reverse {
			states, err = c.fetchReferrers(ctx, rd, s, items)
		} else {
			states, err = c.fetchReferenced(ctx, rd, s, items)
		}
		if err != nil {
			return nil, fmt.Errorf("include %q: %w", s.Name, err)
		}
		slices.SortFunc(states, func(a, b entity.State) int { return a.ID.Compare(b.ID) })
		res.Included[s.Name] = views(states)
	}
	return res, nil
}

// fetchReferenced reads the entities the rows' reference property s names.
func (c *Context) fetchReferenced(ctx context.Context, rd *refReader, s includeSpec, rows []*View) ([]entity.State, error) {
	seen := map[id.EntityID]bool{}
	var ids []id.EntityID
	for _, v := range rows {
		if r, ok := v.state.Values.Get(s.Property).AsRef(); ok && !seen[r] {
			seen[r] = true
			ids = append(ids, r)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := c.node.role.refreshEntities(ctx, c, s.Collection, ids...); err != nil {
		return nil, err
	}
	rc, err := c.includeCollection(ctx, s.Collection)
	if rc == nil || err != nil {
		return nil, err
	}
	var out []entity.State
	for _, eid := range ids {
		st, err := rc.GetState(ctx, eid)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if rd.readable(s.Collection, &st) {
			out = append(out, st)
		}
	}
	return out, nil
}

// fetchReferrers reads the entities of s's collection whose reference
// property s refers to one of the rows.
func (c *Context) fetchReferrers(ctx context.Context, rd *refReader, s includeSpec, rows []*View) ([]entity.State, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	rc, err := c.includeCollection(ctx, s.Collection)
	if rc == nil || err != nil {
		return nil, err
	}
	var out []entity.State
	for start := 0; start < len(rows); start += maxCandidateRefs {
		part := rows[start:min(len(rows), start+maxCandidateRefs)]
		refs := make([]query.Operand, len(part))
		for i, v := range part {
			refs[i] = query.Lit(value.Ref(v.state.ID))
		}
		b := &query.Bound{Where: &query.In{Path: query.Path{s.Property}, Values: refs}, Limit: -1}
		if err := c.node.role.refreshSelection(ctx, c, s.Collection, b); err != nil {
			return nil, err
		}
		states, err := rc.FetchStates(ctx, b)
		if err != nil {
			return nil, err
		}
		for i := range states {
			if rd.readable(s.Collection, &states[i]) {
				out = append(out, states[i])
			}
		}
	}
	return out, nil
}

// includeCollection is the collection an include reads, or nil when the
// caller may not read it at all (the include is empty, as a live query's).
func (c *Context) includeCollection(ctx context.Context, collection string) (storage.Collection, error) {
	if err := c.node.canAccess(ctx, c.cdata, collection); err != nil {
		if errors.Is(err, policy.ErrAccessDenied) {
			return nil, nil
		}
		return nil, err
	}
	return c.node.readCollection(ctx, collection)
}
