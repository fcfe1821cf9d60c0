package storagetest

import (
	"context"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// paginationCases walk results page by page through a node on the engine
// (core.Context.FetchPage): the node adds a seek on the first ORDER BY key
// to the engine's selection and applies the exact cursor bound to what
// comes back, so every engine must answer those seeks as the order sorts.
func paginationCases() []Case {
	return []Case{
		{"Pagination/WalkEqualsUnpaged", func(ctx context.Context, t T, h Harness) { testPageWalk(ctx, t, h, false) }},
		{"Pagination/WalkEqualsUnpaged/Indexed", func(ctx context.Context, t T, h Harness) { testPageWalk(ctx, t, h, true) }},
		{"Pagination/InsertsAndDeletesBetweenPages", func(ctx context.Context, t T, h Harness) { testPageChurn(ctx, t, h, false) }},
		{"Pagination/InsertsAndDeletesBetweenPages/Indexed", func(ctx context.Context, t T, h Harness) { testPageChurn(ctx, t, h, true) }},
	}
}

// pageNode opens a node on the harness's engine and a uniquely named
// collection for it, declaring indexes on props first when indexed.
func pageNode(ctx context.Context, t T, h Harness, indexed bool, props ...string) (*core.Context, string) {
	t.Helper()
	name := openCollection(ctx, t, h.Engine(), "page").Name()
	if indexed {
		declareIndexes(ctx, t, h, name, props...)
	}
	node, err := core.NewNode(ctx, h.Engine(), policy.Permissive{})
	if err != nil {
		t.Fatalf("NewNode on the engine: %v", err)
	}
	t.Cleanup(func() { _ = node.Close() })
	return node.Context(nil), name
}

// walkPages reads every page of q from coll, calling between(after) before
// each page but the first, and returns the entities in page order.
func walkPages(ctx context.Context, t T, c *core.Context, coll, q string, between func(pages int, seen []*core.View)) []*core.View {
	t.Helper()
	var seen []*core.View
	after := ""
	for pages := 0; pages < 1000; pages++ {
		if pages > 0 && between != nil {
			between(pages, seen)
		}
		p, err := c.FetchPage(ctx, coll, q, after)
		if err != nil {
			t.Fatalf("FetchPage(%q) page %d: %v", q, pages+1, err)
		}
		seen = append(seen, p.Items...)
		if p.Next == "" {
			return seen
		}
		after = p.Next
	}
	t.Fatalf("FetchPage(%q): the walk did not end after 1000 pages", q)
	return nil
}

func viewIDs(vs []*core.View) []id.EntityID {
	out := make([]id.EntityID, len(vs))
	for i, v := range vs {
		out[i] = v.ID()
	}
	return out
}

func testPageWalk(ctx context.Context, t T, h Harness, indexed bool) {
	c, coll := pageNode(ctx, t, h, indexed, "k", "n", "j")
	var ref id.EntityID
	ref[0] = 9
	// Every kind, NULLs (a missing property), ties on the order keys and
	// int and float keys that compare equal.
	keys := []any{
		3, 1, "b", 2.5, nil, 1, "a", true, []byte{1}, map[string]any{"x": 1}, 3, nil, false, "b", 1.0,
		value.Ref(ref), []byte{}, "", -7, map[string]any{"x": 1}, []any{2}, value.Ref(id.EntityID{}), nil, "b",
	}
	trx := c.Begin()
	for i, k := range keys {
		m, err := trx.Create(ctx, coll)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if k != nil {
			if err := m.Set("k", k); err != nil {
				t.Fatalf("Set(k, %v): %v", k, err)
			}
		}
		_ = m.Set("n", i%4)
		if i%3 != 0 {
			_ = m.Set("j", map[string]any{"a": keys[(i*7)%len(keys)]})
		}
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	orders := []string{
		"ORDER BY k", "ORDER BY k DESC", "ORDER BY n, k DESC", "ORDER BY n DESC, k",
		"ORDER BY k DESC, n DESC", "ORDER BY j.a", "ORDER BY j.a DESC, k",
	}
	for _, where := range []string{"true", "n != 2"} {
		for _, order := range orders {
			all, err := c.Fetch(ctx, coll, where+" "+order)
			if err != nil {
				t.Fatalf("Fetch(%q): %v", where+" "+order, err)
			}
			for _, limit := range []int{1, 2, 3, 7, 100} {
				q := fmt.Sprintf("%s %s LIMIT %d", where, order, limit)
				got := viewIDs(walkPages(ctx, t, c, coll, q, nil))
				if want := viewIDs(all); !slices.Equal(got, want) {
					t.Errorf("walking %q found %d entities %s, the unpaged fetch %d %s", q, len(got), idList(got), len(want), idList(want))
				}
			}
		}
	}
}

// churnRow is the model of one entity of the churn case.
type churnRow struct {
	id  id.EntityID
	k   int64
	off bool // deleted
}

func testPageChurn(ctx context.Context, t T, h Harness, indexed bool) {
	for _, desc := range []bool{false, true} {
		c, coll := pageNode(ctx, t, h, indexed, "k")
		var rows []*churnRow
		create := func(keys ...int64) {
			t.Helper()
			trx := c.Begin()
			ms := make([]*core.Mut, len(keys))
			for i, k := range keys {
				m, err := trx.Create(ctx, coll)
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				_ = m.Set("k", k)
				ms[i] = m
			}
			if err := trx.Commit(ctx); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			for i, m := range ms {
				rows = append(rows, &churnRow{id: m.ID(), k: keys[i]})
			}
		}
		remove := func(r *churnRow) {
			t.Helper()
			trx := c.Begin()
			m, err := trx.Edit(ctx, coll, r.id)
			if err != nil {
				t.Fatalf("Edit: %v", err)
			}
			_ = m.Delete()
			if err := trx.Commit(ctx); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			r.off = true
		}
		// Two rows per key, so pages end inside tie groups.
		for k := int64(0); k < 100; k += 10 {
			create(k, k)
		}
		cmp := func(a, b *churnRow) int {
			return query.CompareRows([]query.Order{{Path: query.Path{"k"}, Desc: desc}},
				value.FieldsOf(map[string]value.Value{"k": value.Int(a.k)}), a.id, value.FieldsOf(map[string]value.Value{"k": value.Int(b.k)}), b.id)
		}
		// ahead returns the live rows after r in the order.
		ahead := func(r *churnRow) []*churnRow {
			var out []*churnRow
			for _, x := range rows {
				if !x.off && cmp(x, r) > 0 {
					out = append(out, x)
				}
			}
			slices.SortFunc(out, cmp)
			return out
		}
		step := int64(5)
		if desc {
			step = -5
		}
		q := "true ORDER BY k LIMIT 3"
		if desc {
			q = "true ORDER BY k DESC LIMIT 3"
		}
		byID := map[id.EntityID]*churnRow{}
		var last *churnRow // the row the cursor is at
		after, returned := "", 0
		for pages := 1; ; pages++ {
			if pages > 100 {
				t.Fatalf("%q: the walk did not end after 100 pages", q)
			}
			if last != nil {
				// Rows behind the cursor, on its key (returned when their
				// id sorts after its id) and ahead of it.
				create(last.k-step, last.k, last.k+step)
				// Delete the next row ahead, and the cursor's own row on
				// the second page.
				if next := ahead(last); len(next) > 0 {
					remove(next[0])
				}
				if pages == 3 {
					remove(last)
				}
			}
			var want []*churnRow
			if last == nil {
				for _, x := range rows {
					if !x.off {
						want = append(want, x)
					}
				}
				slices.SortFunc(want, cmp)
			} else {
				want = ahead(last)
			}
			want = want[:min(3, len(want))]
			p, err := c.FetchPage(ctx, coll, q, after)
			if err != nil {
				t.Fatalf("FetchPage(%q) page %d: %v", q, pages, err)
			}
			for _, r := range rows {
				byID[r.id] = r
			}
			wantIDs := make([]id.EntityID, len(want))
			for i, r := range want {
				wantIDs[i] = r.id
			}
			if got := viewIDs(p.Items); !slices.Equal(got, wantIDs) {
				t.Fatalf("%q page %d (after %d rows) = %s, want %s", q, pages, returned, idList(got), idList(wantIDs))
			}
			returned += len(p.Items)
			if p.Next == "" {
				break
			}
			last, after = byID[p.Items[len(p.Items)-1].ID()], p.Next
		}
		if returned < 20 {
			t.Errorf("%q: the walk returned %d rows, fewer than the 20 it started with", q, returned)
		}
	}
}
