//go:build js

package main

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/query"
)

// Cursor pagination (docs/pagination.md): one-shot pages, cursors of
// entities in a result, and the cursors of a live page.

// cursorArg reads an optional cursor: undefined, null and "" start at the
// first row.
func cursorArg(v js.Value, what string) (string, error) {
	if v.IsUndefined() || v.IsNull() {
		return "", nil
	}
	if v.Type() != js.TypeString {
		return "", fmt.Errorf("%w: %s must be a cursor string (or null for the first page), got %s", errInvalidArg, what, v.Type())
	}
	return v.String(), nil
}

// afterOption reads the after of a query options object as core.After, or
// nil when it is absent.
func afterOption(o js.Value) (*core.AfterOption, error) {
	v := o.Get("after")
	if v.IsUndefined() {
		return nil, nil
	}
	s, err := cursorArg(v, "after")
	if err != nil {
		return nil, err
	}
	a := core.After(s)
	return &a, nil
}

// cursorErr names the cursor argument in an error about it (one wrapping
// query.ErrCursor); v is the cursor string or an options object holding it
// as after. Other errors pass unchanged.
func cursorErr(err error, v js.Value) error {
	if err == nil || !errors.Is(err, query.ErrCursor) {
		return err
	}
	if v.Type() == js.TypeObject {
		v = v.Get("after")
	}
	s := ""
	if v.Type() == js.TypeString {
		s = v.String()
	}
	if len(s) > 24 {
		s = s[:24] + "…"
	}
	return fmt.Errorf("after cursor %q: %w", s, err)
}

// fetchPage(collection, query, args, after): {items, next}, the rows the
// query's ORDER BY sorts after the cursor (undefined, null or "": from the
// first row), at most its LIMIT of them; next is the cursor after the last
// item, or null when the page is empty.
func (a *api) fetchPage(args []js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	coll, q, qargs, err := queryArgs(args, 0)
	if err != nil {
		return nil, err
	}
	after, err := cursorArg(arg(args, 3), "after")
	if err != nil {
		return nil, err
	}
	p, err := c.FetchPage(context.Background(), coll, q, after, qargs...)
	if err != nil {
		return nil, cursorErr(err, arg(args, 3))
	}
	o := jsObject.New()
	o.Set("items", viewsJS(p.Items))
	o.Set("next", nullable(p.Next))
	return o, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// cursorAt(collection, query, args, id): the cursor of the entity as it is
// now under the query's ORDER BY, to fetch or watch the rows after it.
func (a *api) cursorAt(args []js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	coll, q, qargs, err := queryArgs(args, 0)
	if err != nil {
		return nil, err
	}
	s, err := str(args, 3, "entity id")
	if err != nil {
		return nil, err
	}
	eid, err := parseID(s)
	if err != nil {
		return nil, err
	}
	sel, err := query.Parse(q)
	if err != nil {
		return nil, err
	}
	b, err := sel.Bind(qargs...)
	if err != nil {
		return nil, err
	}
	v, err := c.Get(context.Background(), coll, eid)
	if err != nil {
		return nil, err
	}
	return core.CursorOf(b.OrderBy, v), nil
}

// lqCursorAt(h, id): the cursor of an entity in the live query's current
// result under its ORDER BY; an entity not in the result is an error.
func (a *api) lqCursorAt(args []js.Value) (any, error) {
	lq, err := handle[*core.LiveQuery](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	s, err := str(args, 1, "entity id")
	if err != nil {
		return nil, err
	}
	eid, err := parseID(s)
	if err != nil {
		return nil, err
	}
	b := lq.Selection()
	for _, v := range lq.Items() {
		if v.ID() == eid {
			return core.CursorOf(b.OrderBy, v), nil
		}
	}
	return nil, fmt.Errorf("%w: entity %s is not in the live query's result", errInvalidArg, s)
}

// lqNext(h): the cursor after the live query's last row, or null while
// its result is empty.
func (a *api) lqNext(args []js.Value) (any, error) {
	lq, err := handle[*core.LiveQuery](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	return nullable(lq.Next()), nil
}

// lqAfter(h): the cursor the live query's result starts after, or null
// for one that starts at the first row.
func (a *api) lqAfter(args []js.Value) (any, error) {
	lq, err := handle[*core.LiveQuery](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	return nullable(lq.After()), nil
}
