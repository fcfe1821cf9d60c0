package core_test

import (
	"context"
	"fmt"
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
			n, _ := core.NewNode(memory.New(), policy.Permissive{}, opts...)
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
			n, _ := core.NewNode(memory.New(), policy.Permissive{})
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
			n, _ := core.NewNode(e, policy.Permissive{})
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
