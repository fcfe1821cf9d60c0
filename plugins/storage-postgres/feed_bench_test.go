package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

// BenchmarkFeedCommits runs 1,000 one-entity commits per iteration in
// each of three modes, from one writer and from four at once — the feed row and its NOTIFY (the default), the feed
// row alone, neither — in chunks of 100 taken in turn, so that the modes
// share the machine's load. It reports each mode's commits per second.
func BenchmarkFeedCommits(b *testing.B) {
	for _, w := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) { benchFeedCommits(b, w) })
	}
}

func benchFeedCommits(b *testing.B, writers int) {
	ctx := context.Background()
	e := openEngine(b)
	mustCollection(b, e, "bench")
	mustApply(b, e, benchBatch("bench", -1, 1)) // property columns up front
	type mode struct {
		name         string
		feed, notify bool
		took         time.Duration
		commits      int
	}
	modes := []*mode{{"feed+notify", true, true, 0, 0}, {"feed", true, false, 0, 0}, {"no-feed", false, false, 0, 0}}
	var seq atomic.Int64
	for b.Loop() {
		for range 10 {
			for _, m := range modes {
				postgres.SetFeedWrites(e, m.feed)
				postgres.SetFeedNotify(e, m.notify)
				t0 := time.Now()
				var wg sync.WaitGroup
				for range writers {
					wg.Go(func() {
						for range 100 / writers {
							if err := e.Apply(ctx, benchBatch("bench", int(seq.Add(1)), 1)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				m.took += time.Since(t0)
				m.commits += 100
			}
		}
	}
	for _, m := range modes {
		b.ReportMetric(float64(m.commits)/m.took.Seconds(), m.name+"-commits/s")
	}
}

// BenchmarkFeedLatency measures commit→delivery: one engine commits a
// one-entity batch, a second engine on the same schema (another server)
// follows, and each sample is the time from Apply's return to the
// follower's callback (negative when the callback ran first). Commits are
// one at a time, each 20 ms after the previous delivery. It reports the p50 and
// p90 with NOTIFY (the default) and, for fewer samples, without it
// (followers then read on their idle poll).
func BenchmarkFeedLatency(b *testing.B) {
	ctx := context.Background()
	w := openEngine(b)
	r, err := postgres.Open(ctx, pgtest.URL(b), postgres.WithSchema(w.Schema()))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	mustCollection(b, w, "bench")
	mustApply(b, w, benchBatch("bench", -1, 1))
	head, err := r.FeedHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	delivered := make(chan time.Time, 1)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- r.Follow(fctx, head, func(storage.FeedBatch) error {
			delivered <- time.Now()
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			b.Errorf("Follow: %v", err)
		}
	}()
	const pause = 20 * time.Millisecond
	seq := 0
	sample := func(n int) []time.Duration {
		var out []time.Duration
		for range n {
			time.Sleep(pause) // the follower is waiting, as it mostly is
			seq++
			if err := w.Apply(ctx, benchBatch("bench", seq, 1)); err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			out = append(out, (<-delivered).Sub(t))
		}
		slices.Sort(out)
		return out
	}
	var notify, poll []time.Duration
	for b.Loop() {
		postgres.SetFeedNotify(w, true)
		notify = append(notify, sample(200)...)
		postgres.SetFeedNotify(w, false)
		poll = append(poll, sample(10)...)
	}
	slices.Sort(notify)
	slices.Sort(poll)
	q := func(d []time.Duration, p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) }
	b.ReportMetric(q(notify, 0.5), "notify-p50-µs")
	b.ReportMetric(q(notify, 0.9), "notify-p90-µs")
	b.ReportMetric(q(poll, 0.5), "poll-p50-µs")
	b.Logf("%d samples with NOTIFY, %d without", len(notify), len(poll))
}
