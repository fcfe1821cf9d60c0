package bench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// BenchmarkPage_Walk measures one page of a 100-row cursor walk ordered by
// an indexed property (`true ORDER BY k LIMIT 100`) on a durable node: the
// first page, and the thousandth (after the cursor of row 99,999 of
// 100,100). A keyset page is a seek on the index, so the thousandth page
// should cost about what the first does, not the scan of 99,900 earlier
// rows that an OFFSET would. One iteration is one FetchPage.
func BenchmarkPage_Walk(b *testing.B) {
	const rows, pageSize, deep = 100_100, 100, 1000
	engines := []struct {
		name string
		open func(b *testing.B) storage.Engine
	}{
		{"memory", func(*testing.B) storage.Engine { return memory.New() }},
		{"bolt", func(b *testing.B) storage.Engine {
			e, err := bolt.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			return e
		}},
	}
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			ctx := context.Background()
			e := eng.open(b)
			if err := e.(storage.Indexer).DeclareIndex(ctx, storage.Index{Collection: "item", Property: "k"}); err != nil {
				b.Fatal(err)
			}
			n, err := core.NewNode(ctx, e, policy.Permissive{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = n.Close() })
			c := n.Context(nil)
			for start := 0; start < rows; start += 5000 {
				trx := c.Begin()
				for k := start; k < min(rows, start+5000); k++ {
					m, err := trx.Create(ctx, "item")
					if err != nil {
						b.Fatal(err)
					}
					_ = m.Set("k", k)
				}
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			const q = "true ORDER BY k LIMIT 100"
			sel, err := query.Parse(q)
			if err != nil {
				b.Fatal(err)
			}
			prev, err := c.Fetch(ctx, "item", "k = ?", (deep-1)*pageSize-1)
			if err != nil || len(prev) != 1 {
				b.Fatalf("row %d: %d rows, %v", (deep-1)*pageSize-1, len(prev), err)
			}
			after := core.CursorOf(sel.OrderBy, prev[0])
			for _, page := range []struct {
				name  string
				after string
				first int64
			}{{"page=1", "", 0}, {"page=1000", after, (deep - 1) * pageSize}} {
				b.Run(page.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						p, err := c.FetchPage(ctx, "item", q, page.after)
						if err != nil {
							b.Fatal(err)
						}
						if len(p.Items) != pageSize {
							b.Fatalf("%d rows, want %d", len(p.Items), pageSize)
						}
						if k, _ := p.Items[0].Get("k").AsInt(); k != page.first {
							b.Fatalf("the page starts at k=%d, want %d", k, page.first)
						}
					}
				})
			}
		})
	}
}
