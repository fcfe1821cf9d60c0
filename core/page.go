package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/query"
)

// ErrCursorUnsupported reports a cursor used where it cannot be honored: in
// live queries, and on an ephemeral node whose durable peer speaks a
// protocol older than version 5. See docs/pagination.md.
var ErrCursorUnsupported = errors.New("ankurah: cursor not supported here")

// cursorVersion is the protocol version that carries cursors (FetchReq.After).
const cursorVersion = 5

// Page is one page of an ordered fetch.
type Page struct {
	// Items are the page's entities in ORDER BY order.
	Items []*View
	// Next is the cursor continuing after the last item, or "" when the
	// page is empty. A page shorter than its LIMIT is the last one.
	Next string
}

// FetchPage is Fetch continued after a cursor from an earlier page (""
// starts at the first row). Rows are those the query's ORDER BY (ties by
// entity id) sorts after the cursor, so pages stay stable while entities
// are inserted and deleted elsewhere. A cursor that does not decode, or
// does not fit the query's ORDER BY, is an error wrapping query.ErrCursor.
func (c *Context) FetchPage(ctx context.Context, collection, q, after string, args ...any) (*Page, error) {
	sel, err := query.Parse(q)
	if err != nil {
		return nil, err
	}
	b, err := sel.Bind(args...)
	if err != nil {
		return nil, err
	}
	if after != "" {
		cur, err := query.DecodeCursor(after, b.OrderBy)
		if err != nil {
			return nil, err
		}
		b.After = cur
	}
	items, err := c.FetchBound(ctx, collection, b)
	if err != nil {
		return nil, err
	}
	p := &Page{Items: items}
	if len(items) > 0 {
		p.Next = CursorOf(b.OrderBy, items[len(items)-1])
	}
	return p, nil
}

// CursorOf returns the encoded cursor of a fetched entity under an ORDER BY
// list: pass it as FetchPage's after (or as Bound.After, decoded) to
// continue past it.
func CursorOf(order []query.Order, v *View) string {
	return query.CursorAt(order, v.state.Values, v.state.ID).Encode()
}

func checkAfter(b *query.Bound) error {
	if b.After == nil {
		return nil
	}
	if len(b.After.Keys) != len(b.OrderBy) {
		return fmt.Errorf("%w: %d order keys for an ORDER BY of %d terms", query.ErrCursor, len(b.After.Keys), len(b.OrderBy))
	}
	return nil
}
