package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// BenchmarkSync_InitialSync is BS1 (bench/peers) in one process: a server on
// the memory engine holds size docs of BS1's shape, and each iteration is a
// fresh ephemeral client that dials it over a websocket on loopback and
// subscribes to the whole collection, until its live query holds every doc.
// The baseline beside it, local-query, is the same query answered by the
// server's own node from its own storage (no connection, no encoding).
func BenchmarkSync_InitialSync(b *testing.B) {
	for _, size := range []int{10000, 100000} {
		ctx := context.Background()
		srv, url := serveNode(b, memory.New())
		c := srv.Context(nil)
		for i := 0; i < size; i += 5000 {
			trx := c.Begin()
			for j := i; j < min(size, i+5000); j++ {
				m, err := trx.Create(ctx, "doc")
				if err != nil {
					b.Fatal(err)
				}
				kind := "miss"
				if j%2 == 0 {
					kind = "hit"
				}
				m.Set("key", fmt.Sprintf("d%06d", j))
				m.Set("kind", kind)
				m.Set("n", j)
				m.Set("title", fmt.Sprintf("document number %d", j))
			}
			if err := trx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("docs=%d/fresh-client", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
				if err != nil {
					b.Fatal(err)
				}
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				cl, err := ws.Dial(dctx, url, n)
				if err != nil {
					b.Fatal(err)
				}
				lq, err := n.Context(nil).Query(dctx, "doc", "true")
				if err != nil {
					b.Fatal(err)
				}
				if got := len(lq.Items()); got != size {
					b.Fatalf("the fresh client holds %d docs, want %d", got, size)
				}
				cancel()
				b.StopTimer()
				lq.Close()
				cl.Close()
				n.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size), "ns/doc")
		})
		b.Run(fmt.Sprintf("docs=%d/local-query", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lq, err := c.Query(ctx, "doc", "true")
				if err != nil {
					b.Fatal(err)
				}
				if got := len(lq.Items()); got != size {
					b.Fatalf("the server's query holds %d docs, want %d", got, size)
				}
				b.StopTimer()
				lq.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(size), "ns/doc")
		})
	}
}
