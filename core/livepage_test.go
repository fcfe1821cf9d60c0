package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// seedKeys creates one row per key (k, and live = true) and returns their ids by key.
func seedKeys(t *testing.T, c *core.Context, keys ...int) map[int]id.EntityID {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	ms := map[int]*core.Mut{}
	for _, k := range keys {
		m, err := trx.Create(ctx, "row")
		must(t, err)
		must(t, m.Set("k", k))
		must(t, m.Set("live", true))
		ms[k] = m
	}
	must(t, trx.Commit(ctx))
	ids := map[int]id.EntityID{}
	for k, m := range ms {
		ids[k] = m.ID()
	}
	return ids
}

func itemKeys(vs []*core.View) string {
	ks := make([]string, len(vs))
	for i, v := range vs {
		ks[i] = v.Get("k").Text()
	}
	return strings.Join(ks, " ")
}

// edit applies f to the row eid in one commit.
func edit(t *testing.T, c *core.Context, eid id.EntityID, f func(*core.Mut)) {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	m, err := trx.Edit(ctx, "row", eid)
	must(t, err)
	f(m)
	must(t, trx.Commit(ctx))
}

// livePageSteps runs the scenario of a live page after the cursor of k=20
// on rows 0, 10, ..., 90 (ORDER BY k LIMIT 3): writes go through w, the
// page is read through lq, and check waits (or not) for the expected keys.
func livePageSteps(t *testing.T, w *core.Context, ids map[int]id.EntityID, lq *core.LiveQuery, check func(what, want string)) {
	t.Helper()
	check("initial", "30 40 50")
	seedKeys(t, w, 25)
	check("a row inserted inside the window", "25 30 40")
	seedKeys(t, w, 15, -5)
	check("rows inserted behind the cursor", "25 30 40")
	seedKeys(t, w, 100)
	check("a row inserted after the window", "25 30 40")
	edit(t, w, ids[30], func(m *core.Mut) { must(t, m.Delete()) })
	check("a row of the window deleted (refilled from after it)", "25 40 50")
	edit(t, w, ids[50], func(m *core.Mut) { must(t, m.Set("k", 5)) })
	check("a row of the window moved behind the cursor", "25 40 60")
	edit(t, w, ids[10], func(m *core.Mut) { must(t, m.Set("k", 45)) })
	check("a row moved from behind the cursor into the window", "25 40 45")
	edit(t, w, ids[20], func(m *core.Mut) { must(t, m.Delete()) })
	check("the cursor's own row deleted", "25 40 45")
	edit(t, w, ids[40], func(m *core.Mut) { must(t, m.Set("live", false)) })
	check("a row of the window stopped matching", "25 45 60")
	edit(t, w, ids[90], func(m *core.Mut) { must(t, m.Set("k", 21)) })
	check("a row moved from after the window to its front", "21 25 45")
	if next, err := w.FetchPage(context.Background(), "row", "live = true ORDER BY k LIMIT 3", lq.Next()); err != nil || itemKeys(next.Items) != "60 70 80" {
		t.Fatalf("the page after the live page's Next: %v, %v; want 60 70 80", next, err)
	}
}

// TestLivePage_WindowAfterCursor: a LIMITed live query after a cursor keeps
// the first LIMIT rows after it as rows are inserted, changed and deleted
// before, at, inside and after its window.
func TestLivePage_WindowAfterCursor(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	ids := seedKeys(t, c, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90)
	const q = "live = true ORDER BY k LIMIT 3"
	first, err := c.Query(ctx, "row", q)
	must(t, err)
	defer first.Close()
	if got := itemKeys(first.Items()); got != "0 10 20" {
		t.Fatalf("first page = %s", got)
	}
	lq, err := c.Query(ctx, "row", q, core.After(first.Next()))
	must(t, err)
	defer lq.Close()
	if lq.After() != first.Next() {
		t.Errorf("After() = %q, want the cursor it started after", lq.After())
	}
	var mu sync.Mutex
	var last []*core.View
	unsub := lq.Subscribe(func(cs core.ChangeSet) { mu.Lock(); last = cs.Items; mu.Unlock() })
	defer unsub()
	livePageSteps(t, c, ids, lq, func(what, want string) {
		t.Helper()
		if got := itemKeys(lq.Items()); got != want {
			t.Fatalf("%s: live page = %s, want %s", what, got, want)
		}
	})
	waitFor(t, "the subscriber's last ChangeSet", func() bool { mu.Lock(); defer mu.Unlock(); return itemKeys(last) == "21 25 45" })
}

// TestLivePage_EphemeralClientFollowsTheServer: a client's live page after
// a cursor subscribes with it (SubscribeReq.After) and follows the
// server's writes before, inside and after its window.
func TestLivePage_EphemeralClientFollowsTheServer(t *testing.T) {
	ctx := context.Background()
	server, client := newNode(t), newClient(t)
	link(t, server, client)
	sc, cc := server.Context(nil), client.Context(nil)
	ids := seedKeys(t, sc, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90)
	const q = "live = true ORDER BY k LIMIT 3"
	p, err := cc.FetchPage(ctx, "row", q, "")
	must(t, err)
	lq, err := cc.Query(ctx, "row", q, core.After(p.Next))
	must(t, err)
	defer lq.Close()
	livePageSteps(t, sc, ids, lq, func(what, want string) {
		t.Helper()
		waitFor(t, what+": live page "+want, func() bool { return itemKeys(lq.Items()) == want })
	})
}

// TestLivePage_UpdateSelectionMovesToTheNextPage: a live page re-pointed
// After its own Next shows the next page, and one re-pointed without a
// cursor shows the first again.
func TestLivePage_UpdateSelectionMovesToTheNextPage(t *testing.T) {
	ctx := context.Background()
	for _, role := range []string{"durable", "ephemeral"} {
		t.Run(role, func(t *testing.T) {
			server := newNode(t)
			seedKeys(t, server.Context(nil), 0, 10, 20, 30, 40, 50, 60)
			c := server.Context(nil)
			if role == "ephemeral" {
				client := newClient(t)
				link(t, server, client)
				c = client.Context(nil)
			}
			const q = "live = true ORDER BY k DESC LIMIT 3"
			lq, err := c.Query(ctx, "row", q)
			must(t, err)
			defer lq.Close()
			var pages []string
			for range 4 {
				pages = append(pages, itemKeys(lq.Items()))
				must(t, lq.UpdateSelection(ctx, q, core.After(lq.Next())))
			}
			if got := strings.Join(pages, " | "); got != "60 50 40 | 30 20 10 | 0 | " {
				t.Fatalf("pages = %s, want 60 50 40 | 30 20 10 | 0 | ", got)
			}
			must(t, lq.UpdateSelection(ctx, q))
			if got := itemKeys(lq.Items()); got != "60 50 40" || lq.After() != "" {
				t.Fatalf("re-pointed without a cursor: %s (after %q)", got, lq.After())
			}
		})
	}
}

func TestLivePage_BadCursor(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	seedKeys(t, c, 1, 2)
	p, err := c.FetchPage(ctx, "row", "true ORDER BY k LIMIT 1", "")
	must(t, err)
	for name, cur := range map[string]string{"not base64": "!!", "wrong version": "Ag", "truncated": p.Next[:len(p.Next)-3]} {
		if _, err := c.Query(ctx, "row", "true ORDER BY k LIMIT 1", core.After(cur)); !errors.Is(err, query.ErrCursor) {
			t.Errorf("%s: err = %v, want query.ErrCursor", name, err)
		}
	}
	if _, err := c.Query(ctx, "row", "true ORDER BY k, n LIMIT 1", core.After(p.Next)); !errors.Is(err, query.ErrCursor) {
		t.Errorf("a cursor of another ORDER BY: err = %v, want query.ErrCursor", err)
	}
	if _, err := c.QueryBound(ctx, "row", &query.Bound{Where: &query.Literal{Value: true}, Limit: -1, After: &query.Cursor{Keys: []value.Value{value.Int(1)}}}); !errors.Is(err, query.ErrCursor) {
		t.Errorf("a bound cursor with a key and no ORDER BY: err = %v, want query.ErrCursor", err)
	}
	lq, err := c.Query(ctx, "row", "true ORDER BY k LIMIT 1")
	must(t, err)
	defer lq.Close()
	if err := lq.UpdateSelection(ctx, "true ORDER BY k LIMIT 1", core.After("!!")); !errors.Is(err, query.ErrCursor) {
		t.Errorf("UpdateSelection with a bad cursor: err = %v, want query.ErrCursor", err)
	}
	if got := itemKeys(lq.Items()); got != "1" {
		t.Errorf("after a refused UpdateSelection the live query holds %s, want 1", got)
	}
}

// TestLivePage_ServerRefusesACursorBeforeVersion7: a peer of protocol
// version 6 cannot send SubscribeReq.After; one of version 7 can, and a
// malformed cursor is refused with the kind query.cursor.
func TestLivePage_ServerRefusesACursorBeforeVersion7(t *testing.T) {
	server := newNode(t)
	sc := server.Context(nil)
	seedKeys(t, sc, 1, 2, 3, 4)
	p, err := sc.FetchPage(context.Background(), "row", "true ORDER BY k LIMIT 2", "")
	must(t, err)
	req := transport.SubscribeReq{Sub: 1, Collection: "row", Query: "true ORDER BY k LIMIT 2", After: p.Next}
	if resp := rawRequest(t, server, 6, transport.Request{Subscribe: &req}, nil); !strings.Contains(resp.Error, "protocol version 6") {
		t.Errorf("version 6: %+v, want a refusal naming version 6", resp)
	}
	if resp := rawRequest(t, server, 7, transport.Request{Subscribe: &req}, nil); resp.Error != "" || len(resp.States) != 2 || resp.States[0].Values.Get("k").Text() != "3" {
		t.Errorf("version 7: %+v, want rows 3 and 4", resp)
	}
	req.After = "AQ"
	if resp := rawRequest(t, server, 7, transport.Request{Subscribe: &req}, nil); !strings.Contains(resp.Kinds, "query.cursor") {
		t.Errorf("a malformed cursor: %+v, want the kind query.cursor", resp)
	}
}

// pageModel is the collection as the test wrote it: each row's k (nil: no
// k) and whether it matches (live), for the expected live pages.
type pageModel struct {
	rows map[id.EntityID]map[string]value.Value
}

// page is the first limit rows matching live = true that order sorts after
// the cursor (nil: from the first row).
func (m *pageModel) page(order []query.Order, after *query.Cursor, limit int) string {
	type row struct {
		id id.EntityID
		v  value.Fields
	}
	var rows []row
	for eid, vals := range m.rows {
		v := value.FieldsOf(vals)
		if b, _ := v.Get("live").AsBool(); !b {
			continue
		}
		if after != nil && !after.Before(order, v, eid) {
			continue
		}
		rows = append(rows, row{eid, v})
	}
	slices.SortFunc(rows, func(a, b row) int { return query.CompareRows(order, a.v, a.id, b.v, b.id) })
	var ks []string
	for i := 0; i < len(rows) && i < limit; i++ {
		ks = append(ks, rows[i].v.Get("k").Text())
	}
	return strings.Join(ks, " ")
}

// TestLivePage_RandomWritesKeepEveryPageTheModels: live pages after cursors
// (on rows that exist, were deleted, or never existed; ties on k included;
// asc and desc; several pages of one selection after different cursors)
// stay the first LIMIT live rows after their cursor in a model of the
// collection while random commits insert, change, delete and unmatch rows.
func TestLivePage_RandomWritesKeepEveryPageTheModels(t *testing.T) {
	for _, role := range []string{"durable", "ephemeral"} {
		t.Run(role, func(t *testing.T) { randomLivePages(t, role) })
	}
}

func randomLivePages(t *testing.T, role string) {
	ctx := context.Background()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	server := newNode(t)
	w := server.Context(nil)
	r := w
	steps := 120
	if role == "ephemeral" {
		client := newClient(t)
		link(t, server, client)
		r = client.Context(nil)
		steps = 40
	}
	model := &pageModel{rows: map[id.EntityID]map[string]value.Value{}}
	var live []id.EntityID
	write := func(m *core.Mut) map[string]value.Value {
		isLive := rng.IntN(5) != 0
		vals := map[string]value.Value{"live": value.Bool(isLive)}
		must(t, m.Set("live", isLive))
		if rng.IntN(8) != 0 {
			k := int64(rng.IntN(12))
			vals["k"] = value.Int(k)
			must(t, m.Set("k", k))
		} else {
			must(t, m.Set("k", nil))
		}
		return vals
	}
	commit := func() {
		trx := w.Begin()
		type created struct {
			m    *core.Mut
			vals map[string]value.Value
		}
		var creates []created
		edits := map[id.EntityID]map[string]value.Value{} // nil: deleted
		for range 1 + rng.IntN(3) {
			op := rng.IntN(10)
			var eid id.EntityID
			if len(live) > 0 {
				eid = live[rng.IntN(len(live))]
			}
			if _, touched := edits[eid]; op < 5 || len(live) == 0 || touched {
				m, err := trx.Create(ctx, "row")
				must(t, err)
				creates = append(creates, created{m, write(m)})
				continue
			}
			m, err := trx.Edit(ctx, "row", eid)
			must(t, err)
			if op < 8 {
				edits[eid] = write(m)
			} else {
				must(t, m.Delete())
				edits[eid] = nil
			}
		}
		must(t, trx.Commit(ctx))
		for _, c := range creates {
			model.rows[c.m.ID()] = c.vals
			live = append(live, c.m.ID())
		}
		for eid, vals := range edits {
			if vals != nil {
				model.rows[eid] = vals
				continue
			}
			delete(model.rows, eid)
			live = slices.DeleteFunc(live, func(x id.EntityID) bool { return x == eid })
		}
	}
	for range 20 {
		commit()
	}
	type page struct {
		q     string
		order []query.Order
		after *query.Cursor
		limit int
		lq    *core.LiveQuery
	}
	var pages []*page
	for i := range 8 {
		dir := ""
		if i%2 == 1 {
			dir = " DESC"
		}
		limit := 1 + i%3*2 // 1, 3, 5
		q := fmt.Sprintf("live = true ORDER BY k%s LIMIT %d", dir, limit)
		b, err := query.ParseBound(q)
		must(t, err)
		// A cursor on a row that exists now, or on a made-up row (as one
		// that was deleted): k in the keys' range or NULL, a random id.
		var cur query.Cursor
		if i < 4 && len(live) > 0 {
			eid := live[rng.IntN(len(live))]
			cur = query.CursorAt(b.OrderBy, value.FieldsOf(model.rows[eid]), eid)
		} else {
			var eid id.EntityID
			for j := range eid {
				eid[j] = byte(rng.Uint32())
			}
			k := value.Value{}
			if rng.IntN(4) != 0 {
				k = value.Int(int64(rng.IntN(12)))
			}
			cur = query.Cursor{Keys: []value.Value{k}, ID: eid}
		}
		lq, err := r.Query(ctx, "row", q, core.After(cur.Encode()))
		must(t, err)
		t.Cleanup(lq.Close)
		pages = append(pages, &page{q: q, order: b.OrderBy, after: &cur, limit: limit, lq: lq})
	}
	check := func(step int) {
		t.Helper()
		for _, p := range pages {
			want := model.page(p.order, p.after, p.limit)
			ok := func() bool { return itemKeys(p.lq.Items()) == want }
			if role == "ephemeral" {
				waitFor(t, fmt.Sprintf("step %d: %s after %v: %s", step, p.q, p.after.Keys, want), ok)
			} else if !ok() {
				t.Fatalf("step %d (seed %d): %s after %v = %s, want %s", step, seed, p.q, p.after.Keys, itemKeys(p.lq.Items()), want)
			}
			if p.lq.Next() != "" {
				next, err := r.FetchPage(ctx, "row", p.q, p.after.Encode())
				must(t, err)
				if got := itemKeys(next.Items); got != want {
					t.Fatalf("step %d (seed %d): FetchPage(%s) after %v = %s, live page %s", step, seed, p.q, p.after.Keys, got, want)
				}
			}
		}
	}
	check(0)
	for step := 1; step <= steps; step++ {
		commit()
		check(step)
	}
}
