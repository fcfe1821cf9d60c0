package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/query"
)

// walk reads every page of q and returns the entity ids in page order.
func walk(t *testing.T, c *core.Context, q string) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	after := ""
	for range 100 {
		p, err := c.FetchPage(ctx, "row", q, after)
		if err != nil {
			t.Fatalf("FetchPage(%q, %q): %v", q, after, err)
		}
		for _, v := range p.Items {
			ids = append(ids, v.ID().String())
		}
		if p.Next == "" {
			return ids
		}
		after = p.Next
	}
	t.Fatalf("walk of %q did not end", q)
	return nil
}

func TestFetchPage_WalkMatchesOrderedFetch(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	trx := c.Begin()
	// Mixed kinds, NULLs (a missing property) and ties on the order key.
	keys := []any{3, 1, "b", 2.5, nil, 1, "a", true, []byte{1}, map[string]any{"x": 1}, 3, nil, false, "b", 1}
	for i, k := range keys {
		m, err := trx.Create(ctx, "row")
		if err != nil {
			t.Fatal(err)
		}
		if k != nil {
			m.Set("k", k)
		}
		m.Set("n", i%4)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"ORDER BY k", "ORDER BY k DESC", "ORDER BY n, k DESC", "ORDER BY n DESC, k"} {
		for _, limit := range []int{1, 2, 3, 7} {
			q := fmt.Sprintf("true %s LIMIT %d", order, limit)
			all, err := c.Fetch(ctx, "row", "true "+order)
			if err != nil {
				t.Fatal(err)
			}
			got := walk(t, c, q)
			if len(got) != len(all) {
				t.Fatalf("%s: walk found %d rows, fetch %d", q, len(got), len(all))
			}
			for i := range all {
				if got[i] != all[i].ID().String() {
					t.Fatalf("%s: row %d is %s, want %s", q, i, got[i], all[i].ID())
				}
			}
		}
	}
}

func TestFetchPage_StableUnderInsertsAndDeletes(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	trx := c.Begin()
	for i := range 6 {
		m, _ := trx.Create(ctx, "row")
		m.Set("k", i*10)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	p1, err := c.FetchPage(ctx, "row", "true ORDER BY k LIMIT 2", "")
	if err != nil {
		t.Fatal(err)
	}
	// Before page 2: insert rows before the cursor and after it, delete page 1's first row.
	trx = c.Begin()
	for _, k := range []int{-5, 5, 15} {
		m, _ := trx.Create(ctx, "row")
		m.Set("k", k)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	trx = c.Begin()
	m, err := trx.Edit(ctx, "row", p1.Items[0].ID())
	if err != nil {
		t.Fatal(err)
	}
	m.Delete()
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	p2, err := c.FetchPage(ctx, "row", "true ORDER BY k LIMIT 2", p1.Next)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range p2.Items {
		got = append(got, v.Get("k").Text())
	}
	if fmt.Sprint(got) != "[15 20]" {
		t.Fatalf("page 2 after inserting 15 = %v, want [15 20]", got)
	}
}

func TestFetchPage_BadCursor(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	trx := c.Begin()
	m, _ := trx.Create(ctx, "row")
	m.Set("k", 1)
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := c.FetchPage(ctx, "row", "true ORDER BY k LIMIT 1", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, cur := range map[string]string{
		"not base64":    "!!",
		"empty payload": "",
		"wrong version": "Ag",
		"truncated":     p.Next[:len(p.Next)-3],
		"garbage cbor":  "Af__",
	} {
		if cur == "" {
			continue
		}
		if _, err := c.FetchPage(ctx, "row", "true ORDER BY k LIMIT 1", cur); !errors.Is(err, query.ErrCursor) {
			t.Errorf("%s: err = %v, want query.ErrCursor", name, err)
		}
	}
	// A cursor of a one-key ORDER BY does not fit a two-key one.
	if _, err := c.FetchPage(ctx, "row", "true ORDER BY k, n LIMIT 1", p.Next); !errors.Is(err, query.ErrCursor) {
		t.Errorf("cursor for another ORDER BY: err = %v, want query.ErrCursor", err)
	}
	if _, err := c.QueryBound(ctx, "row", &query.Bound{Where: &query.Literal{Value: true}, Limit: -1, After: &query.Cursor{}}); !errors.Is(err, core.ErrCursorUnsupported) {
		t.Errorf("live query after a cursor: err = %v, want ErrCursorUnsupported", err)
	}
}
