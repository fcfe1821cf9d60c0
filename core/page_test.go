package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
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

// seedMixed writes rows whose k holds every kind, NULLs (a missing
// property) and ties, with a second key n.
func seedMixed(t *testing.T, c *core.Context) {
	t.Helper()
	ctx := context.Background()
	var ref id.EntityID
	ref[3] = 1
	trx := c.Begin()
	keys := []any{3, 1, "b", 2.5, nil, 1, "a", true, []byte{1}, map[string]any{"x": 1}, 3, nil, false, "b", 1, value.Ref(ref), []byte{}, []any{1}}
	for i, k := range keys {
		m, err := trx.Create(ctx, "row")
		if err != nil {
			t.Fatal(err)
		}
		if k != nil {
			must(t, m.Set("k", k))
		}
		must(t, m.Set("n", i%4))
	}
	must(t, trx.Commit(ctx))
}

// checkWalks walks several ORDER BYs page by page on c and compares each
// walk with the unpaged fetch on ref.
func checkWalks(t *testing.T, c, ref *core.Context) {
	t.Helper()
	ctx := context.Background()
	for _, order := range []string{"ORDER BY k", "ORDER BY k DESC", "ORDER BY n, k DESC", "ORDER BY n DESC, k"} {
		all, err := ref.Fetch(ctx, "row", "true "+order)
		must(t, err)
		for _, limit := range []int{1, 2, 3, 7} {
			q := fmt.Sprintf("true %s LIMIT %d", order, limit)
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

func TestFetchPage_WalkMatchesOrderedFetch(t *testing.T) {
	c := newNode(t).Context(nil)
	seedMixed(t, c)
	checkWalks(t, c, c)
}

// TestFetchPage_EphemeralClientPagesThroughTheServer: a client's pages are
// the server's, over the sync protocol (the cursor travels as
// FetchReq.After), for every kind of order key.
func TestFetchPage_EphemeralClientPagesThroughTheServer(t *testing.T) {
	server, client := newNode(t), newClient(t)
	link(t, server, client)
	seedMixed(t, server.Context(nil))
	checkWalks(t, client.Context(nil), server.Context(nil))
}

// TestFetchPage_EphemeralClientDropsRowsTheServerNoLongerHas: a client that
// cached every row pages through the server after rows ahead of its cursor
// were deleted or stopped matching there: its pages skip them (the server's
// answer covers that window, so cached rows it left out are stale), and
// rows inserted ahead of the cursor appear.
func TestFetchPage_EphemeralClientDropsRowsTheServerNoLongerHas(t *testing.T) {
	ctx := context.Background()
	server, client := newNode(t), newClient(t)
	link(t, server, client)
	sc, cc := server.Context(nil), client.Context(nil)
	ids := map[int]id.EntityID{}
	trx := sc.Begin()
	var ms []*core.Mut
	for k := range 10 {
		m, err := trx.Create(ctx, "row")
		must(t, err)
		must(t, m.Set("k", k*10))
		must(t, m.Set("live", true))
		ms = append(ms, m)
	}
	must(t, trx.Commit(ctx))
	for k, m := range ms {
		ids[k*10] = m.ID()
	}
	const q = "live = true ORDER BY k LIMIT 3"
	if all, err := cc.Fetch(ctx, "row", "live = true"); err != nil || len(all) != 10 {
		t.Fatalf("client fetch of every row: %d rows, %v", len(all), err)
	}
	p1, err := cc.FetchPage(ctx, "row", q, "")
	must(t, err)
	// On the server: delete 30, make 40 stop matching, insert 35.
	trx = sc.Begin()
	m, err := trx.Edit(ctx, "row", ids[30])
	must(t, err)
	must(t, m.Delete())
	m, err = trx.Edit(ctx, "row", ids[40])
	must(t, err)
	must(t, m.Set("live", false))
	m, err = trx.Create(ctx, "row")
	must(t, err)
	must(t, m.Set("k", 35))
	must(t, m.Set("live", true))
	must(t, trx.Commit(ctx))
	p2, err := cc.FetchPage(ctx, "row", q, p1.Next)
	must(t, err)
	if got := pageKeys(p1) + " | " + pageKeys(p2); got != "0 10 20 | 35 50 60" {
		t.Fatalf("client pages = %s, want 0 10 20 | 35 50 60", got)
	}
}

func pageKeys(p *core.Page) string {
	var ks []string
	for _, v := range p.Items {
		ks = append(ks, v.Get("k").Text())
	}
	return strings.Join(ks, " ")
}

// TestFetchPage_ServerRefusesACursorBeforeVersion5: a peer of protocol
// version 4 cannot send FetchReq.After; one of version 5 can.
func TestFetchPage_ServerRefusesACursorBeforeVersion5(t *testing.T) {
	server := newNode(t)
	sc := server.Context(nil)
	seedMixed(t, sc)
	p, err := sc.FetchPage(context.Background(), "row", "true ORDER BY k LIMIT 2", "")
	must(t, err)
	req := transport.FetchReq{Collection: "row", Query: "true ORDER BY k LIMIT 2", After: p.Next}
	if resp := rawFetch(t, server, 4, req); !strings.Contains(resp.Error, "protocol version 4") {
		t.Errorf("version 4: %+v, want a refusal naming version 4", resp)
	}
	if resp := rawFetch(t, server, 5, req); resp.Error != "" || len(resp.States) != 2 {
		t.Errorf("version 5: error %q, %d states, want 2 states", resp.Error, len(resp.States))
	}
	req.After = "AQ" // version byte, no body
	if resp := rawFetch(t, server, 5, req); !strings.Contains(resp.Kinds, "query.cursor") {
		t.Errorf("a malformed cursor: %+v, want the kind query.cursor", resp)
	}
}

// rawFetch sends one Fetch over a raw connection speaking version and
// returns its (single-part) answer.
func rawFetch(t *testing.T, server *core.Node, version uint32, req transport.FetchReq) *transport.Response {
	t.Helper()
	return rawRequest(t, server, version, transport.Request{Fetch: &req}, nil)
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
}

// A cached row the server deleted inside a page's window is dropped even
// when the window's last row is one the server sends in full (it changed
// while the client held it): the window's end is read from that state's
// values.
func TestFetchPage_EphemeralClientDropsARowBeforeAChangedLastRow(t *testing.T) {
	ctx := context.Background()
	server, client := newNode(t), newClient(t)
	link(t, server, client)
	sc, cc := server.Context(nil), client.Context(nil)
	ids := map[int]id.EntityID{}
	trx := sc.Begin()
	var ms []*core.Mut
	for k := range 10 {
		m, err := trx.Create(ctx, "row")
		must(t, err)
		must(t, m.Set("k", k*10))
		must(t, m.Set("live", true))
		ms = append(ms, m)
	}
	must(t, trx.Commit(ctx))
	for k, m := range ms {
		ids[k*10] = m.ID()
	}
	const q = "live = true ORDER BY k LIMIT 3"
	if all, err := cc.Fetch(ctx, "row", "live = true"); err != nil || len(all) != 10 {
		t.Fatalf("client fetch of every row: %d rows, %v", len(all), err)
	}
	p1, err := cc.FetchPage(ctx, "row", q, "")
	must(t, err)
	// On the server: delete 50, and change 60 (the next page's last row
	// once 50 is gone) in a property the query does not read; 30 and 40
	// are answered unchanged, 60 in full.
	trx = sc.Begin()
	m, err := trx.Edit(ctx, "row", ids[50])
	must(t, err)
	must(t, m.Delete())
	m, err = trx.Edit(ctx, "row", ids[60])
	must(t, err)
	must(t, m.Set("note", "edited"))
	must(t, trx.Commit(ctx))
	p2, err := cc.FetchPage(ctx, "row", q, p1.Next)
	must(t, err)
	if got := pageKeys(p1) + " | " + pageKeys(p2); got != "0 10 20 | 30 40 60" {
		t.Fatalf("client pages = %s, want 0 10 20 | 30 40 60", got)
	}
}
