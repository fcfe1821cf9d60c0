package core_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// BenchmarkCommit_Memory is one single-writer commit (edit one property of
// one entity) through the node on the memory engine, with the node's cache of
// decoded backends (cache=on, the default) and without it (cache=off: every
// Edit and every commit decodes the stored backends).
func BenchmarkCommit_Memory(b *testing.B) {
	for _, cache := range []bool{false, true} {
		name, opts := "cache=on", []core.Option(nil)
		if !cache {
			name, opts = "cache=off", []core.Option{core.WithBackendCache(0)}
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, opts...)
			c := n.Context(nil)
			ids := createAlbums(b, c, album{"x", "y", 1})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				m, err := trx.Edit(ctx, "album", ids[0])
				if err != nil {
					b.Fatal(err)
				}
				m.Set("year", i)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReactor_Commit commits one change while N live queries of the
// shape `field = constant` exist, exactly one of which matches.
func BenchmarkReactor_Commit(b *testing.B) {
	for _, queries := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("queries=%d", queries), func(b *testing.B) {
			ctx := context.Background()
			n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
			defer n.Close()
			c := n.Context(nil)
			ids := createAlbums(b, c, album{"x", "y", 1})
			for q := 0; q < queries; q++ {
				if _, err := c.Query(ctx, "album", "code = ?", q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				m, _ := trx.Edit(ctx, "album", ids[0])
				m.Set("code", 0) // matches query 0 only
				m.Set("n", i)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLiveQuery_Establish1000 creates 1,000 live queries over a
// collection of 1,000 entities, with the memory engine scanning every state
// for each query's initial fetch (index=none, the baseline) and with an index
// declared on "year" first (index=year), as typed models do through
// DeclareIndexes.
func BenchmarkLiveQuery_Establish1000(b *testing.B) {
	for _, declare := range []bool{false, true} {
		name := "index=none"
		if declare {
			name = "index=year"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			e := memory.New()
			if declare {
				if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
					b.Fatal(err)
				}
			}
			n, _ := core.NewNode(context.Background(), e, policy.Permissive{})
			defer n.Close()
			c := n.Context(nil)
			var albums []album
			for i := 0; i < 1000; i++ {
				albums = append(albums, album{fmt.Sprint("a", i), "artist", i})
			}
			createAlbums(b, c, albums...)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				lqs := make([]*core.LiveQuery, 0, 1000)
				for q := 0; q < 1000; q++ {
					lq, err := c.Query(ctx, "album", "year = ?", q)
					if err != nil {
						b.Fatal(err)
					}
					lqs = append(lqs, lq)
				}
				b.StopTimer()
				for _, lq := range lqs {
					lq.Close()
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkReactor_RangeQueries commits one change while N live queries of
// the shape `code >= q AND code < q+1` exist, exactly one of which matches.
func BenchmarkReactor_RangeQueries(b *testing.B) {
	for _, queries := range []int{1, 10000} {
		b.Run(fmt.Sprintf("queries=%d", queries), func(b *testing.B) {
			ctx := context.Background()
			n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
			defer n.Close()
			c := n.Context(nil)
			ids := createAlbums(b, c, album{"x", "y", 1})
			for q := 0; q < queries; q++ {
				if _, err := c.Query(ctx, "album", "code >= ? AND code < ?", q, q+1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				m, _ := trx.Edit(ctx, "album", ids[0])
				m.Set("code", 0)
				m.Set("n", i)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReactor_LimitedQueries commits a new row that enters the window
// of N LIMITed live queries (`group = ? ORDER BY n DESC LIMIT 10` over a
// group of 200 rows, every query on the same group).
func BenchmarkReactor_LimitedQueries(b *testing.B) {
	for _, queries := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("queries=%d", queries), func(b *testing.B) {
			ctx := context.Background()
			n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
			defer n.Close()
			c := n.Context(nil)
			trx := c.Begin()
			for i := 0; i < 200; i++ {
				m, _ := trx.Create(ctx, "row")
				m.Set("group", 1)
				m.Set("n", i)
			}
			if err := trx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			for q := 0; q < queries; q++ {
				if _, err := c.Query(ctx, "row", "group = ? ORDER BY n DESC LIMIT 10", 1); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC() // the setup's garbage is not the commits' cost
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				m, _ := trx.Create(ctx, "row")
				m.Set("group", 1)
				m.Set("n", 1000+i)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReactor_LimitedQueriesMiss commits a change that every one of N
// LIMITed live queries (`n >= q ORDER BY n LIMIT 10`, q = 0…N-1, over 2,000
// rows) matches but that enters none of their windows.
func BenchmarkReactor_LimitedQueriesMiss(b *testing.B) {
	for _, queries := range []int{1, 1000} {
		b.Run(fmt.Sprintf("queries=%d", queries), func(b *testing.B) {
			ctx := context.Background()
			n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
			defer n.Close()
			c := n.Context(nil)
			trx := c.Begin()
			for i := 0; i < 2000; i++ {
				m, _ := trx.Create(ctx, "row")
				m.Set("n", i)
			}
			if err := trx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			ids := createAlbums(b, c, album{"x", "y", 1})
			_ = ids
			trx = c.Begin()
			late, _ := trx.Create(ctx, "row")
			late.Set("n", 5000)
			if err := trx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			for q := 0; q < queries; q++ {
				if _, err := c.Query(ctx, "row", "n >= ? ORDER BY n LIMIT 10", q); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC() // the setup's garbage is not the commits' cost
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				m, _ := trx.Edit(ctx, "row", late.ID())
				m.Set("n", 5000+i)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLiveQuery_BulkCommit: one commit of 2,000 new rows whose sort key
// is spread over a live query's 20,000-row ordered result (a bulk import
// into a sorted list), and the same commit into an unordered query. Each
// op is the commit and the query settling it; the rows are deleted again
// (in a commit of their own, not timed) before the next op.
func BenchmarkLiveQuery_BulkCommit(b *testing.B) {
	for _, q := range []string{"true ORDER BY n", "true"} {
		b.Run("query="+q, func(b *testing.B) {
			ctx := context.Background()
			n, _ := core.NewNode(ctx, memory.New(), policy.Permissive{})
			b.Cleanup(func() { n.Close() })
			c := n.Context(nil)
			const rows, batch = 20000, 2000
			for done := 0; done < rows; done += batch {
				trx := c.Begin()
				for k := 0; k < batch; k++ {
					m, _ := trx.Create(ctx, "row")
					_ = m.Set("n", (done+k)*7919%rows*2)
				}
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			lq, err := c.Query(ctx, "row", q)
			if err != nil {
				b.Fatal(err)
			}
			defer lq.Close()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				made := make([]*core.Mut, 0, batch)
				for k := 0; k < batch; k++ {
					m, _ := trx.Create(ctx, "row")
					_ = m.Set("n", (k*7919%batch)*(2*rows/batch)+1)
					made = append(made, m)
				}
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				if got := len(lq.Items()); got != rows+batch {
					b.Fatalf("%d rows, want %d", got, rows+batch)
				}
				b.StopTimer()
				trx = c.Begin()
				for _, m := range made {
					if err := trx.Delete(ctx, "row", m.ID()); err != nil {
						b.Fatal(err)
					}
				}
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkReactor_LargeResult commits an edit of one entity of a live
// query's 10,000-row result: a query nothing listens to (listened=no, as a
// durable peer's subscription is on the server: its ChangeSets go to a sink)
// and one with a subscriber (listened=yes, whose ChangeSets carry a copy of
// the result).
func BenchmarkReactor_LargeResult(b *testing.B) {
	const rows = 10000
	for _, listened := range []bool{false, true} {
		name := "listened=no"
		if listened {
			name = "listened=yes"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
			defer n.Close()
			c := n.Context(nil)
			albums := make([]album, rows)
			for i := range albums {
				albums[i] = album{fmt.Sprint("a", i), "artist", i}
			}
			ids := createAlbums(b, c, albums...)
			lq, err := c.Query(ctx, "album", "year >= 0")
			if err != nil {
				b.Fatal(err)
			}
			defer lq.Close()
			if listened {
				lq.Subscribe(func(core.ChangeSet) {})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				m, err := trx.Edit(ctx, "album", ids[i%rows])
				if err != nil {
					b.Fatal(err)
				}
				m.Set("name", fmt.Sprint("b", i))
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLiveQuery_WholeCollection establishes a live query over a whole
// collection of 100,000 entities of six properties ("true": what a server
// reads for a client that follows everything), then closes it.
func BenchmarkLiveQuery_WholeCollection(b *testing.B) {
	const rows, batch = 100000, 5000
	ctx := context.Background()
	n, _ := core.NewNode(ctx, memory.New(), policy.Permissive{})
	defer n.Close()
	c := n.Context(nil)
	for i := 0; i < rows; i += batch {
		trx := c.Begin()
		for j := i; j < i+batch; j++ {
			m, err := trx.Create(ctx, "doc")
			if err != nil {
				b.Fatal(err)
			}
			m.Set("key", fmt.Sprintf("d%06d", j))
			m.Set("kind", "hit")
			m.Set("ph", "b")
			m.Set("n", j)
			m.Set("t", 1.5)
			m.Set("title", "doc")
		}
		if err := trx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	held := 0
	for b.Loop() {
		lq, err := c.Query(ctx, "doc", "true")
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		held = len(lq.Items())
		lq.Close()
		b.StartTimer()
	}
	if held != rows {
		b.Fatalf("the live query held %d rows, want %d", held, rows)
	}
}
