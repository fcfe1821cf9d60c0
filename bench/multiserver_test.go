package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	postgres "github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// Several servers on one PostgreSQL database (docs/benchmarks.md, "Several
// servers on one database"). Each benchmark starts a throwaway PostgreSQL
// (or uses PG_TEST_URL); without one it skips, or fails under CI=true.

// postgresFor returns the URL of a PostgreSQL server for b's run.
func postgresFor(b *testing.B) string {
	b.Helper()
	if u := os.Getenv("PG_TEST_URL"); u != "" {
		return u
	}
	srv, err := pgtest.Start(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("CI=true and no PostgreSQL server could be started: %v", err)
		}
		b.Skipf("no PostgreSQL: %v", err)
	}
	b.Cleanup(func() { _ = srv.Stop() })
	return srv.URL
}

// sharedServers starts n server nodes, each with its own engine on one
// schema of the database at url and following its change feed, and returns
// their websocket URLs.
func sharedServers(b *testing.B, url string, n int) []string {
	b.Helper()
	ctx := context.Background()
	schema := pgtest.SchemaName(b.Name())
	urls := make([]string, n)
	for i := range n {
		e, err := postgres.Open(ctx, url, postgres.WithSchema(schema))
		if err != nil {
			b.Fatal(err)
		}
		node, err := core.NewNode(ctx, e, policy.Permissive{}, core.WithSharedStorage())
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/ws", ws.NewServer(node))
		srv := httptest.NewServer(mux)
		b.Cleanup(func() { srv.Close(); node.Close(); e.Close() })
		urls[i] = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	}
	return urls
}

// BenchmarkMultiServer_WriteToNotify: three servers on one PostgreSQL
// database; a client of server 1 edits one entity, and subscribers' live
// queries hear of it. same-* is the latency to subscribers on server 1,
// cross-* to those on servers 2 and 3, from the same commits: with
// subscribers=1 one subscriber on server 1 and one on server 2; with 100,
// 34 on server 1 and 33 on each of the others. Latency runs from the
// start of Commit to each subscriber's notification.
func BenchmarkMultiServer_WriteToNotify(b *testing.B) {
	pg := postgresFor(b)
	for _, subs := range []int{1, 100} {
		b.Run(fmt.Sprintf("servers=3/subscribers=%d", subs), func(b *testing.B) {
			ctx := context.Background()
			urls := sharedServers(b, pg, 3)
			writer := client(b, urls[0])
			wc := writer.Context(nil)
			trx := wc.Begin()
			m, err := trx.Create(ctx, "album")
			if err != nil {
				b.Fatal(err)
			}
			m.Set("name", "x")
			if err := trx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			eid := m.ID()
			homes := []int{0, 1}
			if subs > 1 {
				homes = make([]int, subs)
				for i := range homes {
					homes[i] = i % 3
				}
			}
			var mu sync.Mutex
			var same, cross []time.Duration
			var start time.Time
			var wg sync.WaitGroup
			var ready sync.WaitGroup
			for _, home := range homes {
				sc := client(b, urls[home])
				lq, err := sc.Context(nil).Query(ctx, "album", "name = 'x'")
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(lq.Close)
				ready.Add(1)
				var primed atomic.Bool
				// Wait until the subscriber holds the entity.
				for len(lq.Items()) != 1 {
					time.Sleep(5 * time.Millisecond)
				}
				primed.Store(true)
				ready.Done()
				lq.Subscribe(func(core.ChangeSet) {
					if !primed.Load() {
						return
					}
					mu.Lock()
					if start.IsZero() {
						mu.Unlock()
						return
					}
					d := time.Since(start)
					if home == 0 {
						same = append(same, d)
					} else {
						cross = append(cross, d)
					}
					mu.Unlock()
					wg.Done()
				})
			}
			ready.Wait()
			time.Sleep(100 * time.Millisecond)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				wg.Add(len(homes))
				trx := wc.Begin()
				m, err := trx.Edit(ctx, "album", eid)
				if err != nil {
					b.Fatal(err)
				}
				m.Set("n", i)
				mu.Lock()
				start = time.Now()
				mu.Unlock()
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				wg.Wait()
				mu.Lock()
				start = time.Time{}
				mu.Unlock()
			}
			b.StopTimer()
			reportAs(b, "same", same)
			reportAs(b, "cross", cross)
			if len(same) > 0 && len(cross) > 0 {
				b.ReportMetric(float64(p(cross, 50))/float64(p(same, 50)), "cross/same-p50")
			}
		})
	}
}

func p(lat []time.Duration, q int) time.Duration {
	s := slices.Sorted(slices.Values(lat))
	return s[min(len(s)-1, len(s)*q/100)]
}

// reportAs reports the p50 and p99 of lat as name-p50-µs and name-p99-µs
// (fractions of a microsecond kept).
func reportAs(b *testing.B, name string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(p(lat, 50).Nanoseconds())/1e3, name+"-p50-µs")
	b.ReportMetric(float64(p(lat, 99).Nanoseconds())/1e3, name+"-p99-µs")
}

// BenchmarkMultiServer_Commits: 24 websocket clients, spread evenly over 1
// or 3 servers on one PostgreSQL database, each editing its own entity as
// fast as its server acknowledges. Reports commits/s over all clients.
func BenchmarkMultiServer_Commits(b *testing.B) {
	pg := postgresFor(b)
	const clients = 24
	for _, servers := range []int{1, 3} {
		b.Run(fmt.Sprintf("servers=%d/clients=%d", servers, clients), func(b *testing.B) {
			ctx := context.Background()
			urls := sharedServers(b, pg, servers)
			type writer struct {
				c  *core.Context
				id [32]byte
			}
			wrs := make([]writer, clients)
			for i := range wrs {
				c := client(b, urls[i%servers]).Context(nil)
				trx := c.Begin()
				m, err := trx.Create(ctx, "counter")
				if err != nil {
					b.Fatal(err)
				}
				m.Set("n", 0)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				wrs[i] = writer{c, m.ID()}
			}
			per := max(1, b.N/clients)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var failed atomic.Int64
			for _, w := range wrs {
				wg.Go(func() {
					for i := range per {
						trx := w.c.Begin()
						m, err := trx.Edit(ctx, "counter", w.id)
						if err != nil {
							failed.Add(1)
							trx.Rollback()
							continue
						}
						m.Set("n", i+1)
						if err := trx.Commit(ctx); err != nil {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d commits failed", n)
			}
			b.ReportMetric(float64(per*clients)/el.Seconds(), "commits/s")
		})
	}
}
