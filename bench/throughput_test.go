package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// BenchmarkServe_Throughput: N websocket clients on loopback, each
// committing to its own entity as fast as the server acknowledges, through
// one server on memory or bolt. Reports commits/s over all clients.
func BenchmarkServe_Throughput(b *testing.B) {
	for _, eng := range []string{"memory", "bolt"} {
		for _, clients := range []int{1, 8, 48} {
			b.Run(fmt.Sprintf("engine=%s/clients=%d", eng, clients), func(b *testing.B) {
				ctx := context.Background()
				var e storage.Engine = memory.New()
				if eng == "bolt" {
					be, err := bolt.Open(ctx, filepath.Join(b.TempDir(), "t.db"))
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { be.Close() })
					e = be
				}
				_, url := serveNode(b, e)
				type writer struct {
					c  *core.Context
					id [32]byte
				}
				ws := make([]writer, clients)
				for i := range ws {
					cn := client(b, url)
					c := cn.Context(nil)
					trx := c.Begin()
					m, err := trx.Create(ctx, "counter")
					if err != nil {
						b.Fatal(err)
					}
					m.Set("n", 0)
					if err := trx.Commit(ctx); err != nil {
						b.Fatal(err)
					}
					ws[i] = writer{c, m.ID()}
				}
				per := max(1, b.N/clients)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for _, w := range ws {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < per; i++ {
							trx := w.c.Begin()
							m, err := trx.Edit(ctx, "counter", w.id)
							if err != nil {
								b.Error(err)
								return
							}
							m.Set("n", i+1)
							if err := trx.Commit(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.ReportMetric(float64(per*clients)/el.Seconds(), "commits/s")
			})
		}
	}
}
