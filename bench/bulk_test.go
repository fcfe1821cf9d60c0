package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	postgres "github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

// BenchmarkBulk_Transaction5000 is the side-by-side harness's bulk preload
// (bench/peers, "bulk") without the npm peers: an ephemeral client commits
// transactions of 5,000 new entities through websockets on loopback to an
// in-process server, which validates and stores each one. One iteration is
// one transaction, from Begin to the server's acceptance stored back on the
// client.
func BenchmarkBulk_Transaction5000(b *testing.B) {
	const size = 5000
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
		{"postgres", func(b *testing.B) storage.Engine {
			url := postgresFor(b)
			e, err := postgres.Open(context.Background(), url, postgres.WithSchema(pgtest.SchemaName(b.Name())))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { e.Close() })
			return e
		}},
	}
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			ctx := context.Background()
			_, url := serveNode(b, eng.open(b))
			c := client(b, url).Context(nil)
			k := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				trx := c.Begin()
				for range size {
					m, err := trx.Create(ctx, "album")
					if err != nil {
						b.Fatal(err)
					}
					m.Set("name", fmt.Sprintf("album %d", k))
					m.Set("year", 1950+k%70)
					k++
				}
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/size/1000, "µs/entity")
		})
	}
}
