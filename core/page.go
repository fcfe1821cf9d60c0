package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
)

// ErrCursorUnsupported reports a cursor used where it cannot be honored: on
// an ephemeral node whose durable peer speaks a protocol older than the one
// that carries it (version 5 for a fetch, 7 for a live query). See
// docs/pagination.md.
var ErrCursorUnsupported = errors.New("ankurah: cursor not supported here")

// cursorVersion is the protocol version that carries cursors in fetches
// (FetchReq.After); liveCursorVersion the one that carries them in
// subscriptions (SubscribeReq.After).
const (
	cursorVersion     = 5
	liveCursorVersion = 7
)

// AfterOption is a QueryOption starting a live query's result after a
// pagination cursor (see After).
type AfterOption struct{ cursor string }

func (AfterOption) queryOption() {}

// After starts a live query's result after a cursor from an earlier page
// (Page.Next, LiveQuery.Next or CursorOf; "" starts at the first row): its
// rows are those the query's ORDER BY (ties by entity id) sorts after the
// cursor, and with a LIMIT its window is the first LIMIT of them, kept
// current as rows are inserted, changed and deleted before, inside and
// after it. Rows at or behind the cursor never enter; a row that leaves is
// replaced from after the window. Pass it to Query (among the arguments),
// QueryBound or UpdateSelection. A cursor that does not decode, or does
// not fit the query's ORDER BY, is an error wrapping query.ErrCursor.
func After(cursor string) AfterOption { return AfterOption{cursor: cursor} }

// withAfter returns b continued after the cursor of the last After option
// among opts (b itself without one).
func withAfter(b *query.Bound, opts []QueryOption) (*query.Bound, error) {
	var ao *AfterOption
	for _, o := range opts {
		if a, ok := o.(AfterOption); ok {
			ao = &a
		}
	}
	if ao == nil {
		return b, nil
	}
	nb := *b
	nb.After = nil
	if ao.cursor != "" {
		cur, err := query.DecodeCursor(ao.cursor, b.OrderBy)
		if err != nil {
			return nil, err
		}
		nb.After = cur
	}
	return &nb, nil
}

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

// Next returns the cursor of the live query's last row, to continue after
// its window (FetchPage's after, or After for another live query), or ""
// while its result is empty.
func (lq *LiveQuery) Next() string {
	lq.mu.Lock()
	order := lq.bound.OrderBy
	lq.mu.Unlock()
	var last *View
	lq.current(func(items []*View, _ map[id.EntityID]*View) {
		if len(items) > 0 {
			last = items[len(items)-1]
		}
	})
	if last == nil {
		return ""
	}
	return CursorOf(order, last)
}

// After returns the cursor the live query's result starts after ("" for
// one that starts at the first row).
func (lq *LiveQuery) After() string {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if lq.bound == nil || lq.bound.After == nil {
		return ""
	}
	return lq.bound.After.Encode()
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
