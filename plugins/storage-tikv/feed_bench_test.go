package tikv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/storage"
)

// BenchmarkFeedCommits runs 1,000 one-entity commits per iteration through
// Apply, in chunks of 500 taken in turn with and without a follower on a
// second handle of the same store (another server), from one writer and
// from four at once, so that both modes share the machine's load. (The
// follower starts at each chunk; with chunks of 100 its first read of the
// log's window weighed on the followed chunks.) Every Apply writes its log
// entry either way; the difference is what following costs the writers.
// It reports each mode's commits per second.
func BenchmarkFeedCommits(b *testing.B) {
	for _, w := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) { benchFeedCommits(b, w) })
	}
}

func benchFeedCommits(b *testing.B, writers int) {
	const chunk = 500
	ctx := context.Background()
	client := benchClient(b)
	defer client.Close()
	w, err := New(ctx, client, WithKeyPrefix("feed"))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	r, err := New(ctx, client, WithKeyPrefix("feed"))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	type mode struct {
		name    string
		follow  bool
		took    time.Duration
		commits int
	}
	modes := []*mode{{"followed", true, 0, 0}, {"unfollowed", false, 0, 0}}
	for b.Loop() {
		for range 1000 / chunk {
			for _, m := range modes {
				stop := func() {}
				if m.follow {
					stop = follow(b, ctx, r, nil)
				}
				t0 := time.Now()
				var wg sync.WaitGroup
				for range writers {
					wg.Go(func() {
						for range chunk / writers {
							if err := w.Apply(ctx, benchBatch(int(seeds.Add(1)), 1)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				m.took += time.Since(t0)
				m.commits += chunk / writers * writers
				stop()
			}
		}
	}
	for _, m := range modes {
		b.ReportMetric(float64(m.commits)/m.took.Seconds(), m.name+"-commits/s")
	}
}

// follow runs e.Follow from its head until the returned stop is called;
// each delivered batch's arrival time goes to delivered when it is not nil.
func follow(b *testing.B, ctx context.Context, e *Engine, delivered chan<- time.Time) (stop func()) {
	head, err := e.FeedHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- e.Follow(fctx, head, func(storage.FeedBatch) error {
			if delivered != nil {
				delivered <- time.Now()
			}
			return nil
		})
	}()
	return func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			b.Errorf("Follow: %v", err)
		}
	}
}

// BenchmarkFeedLatency measures commit→delivery on client-go's in-process
// store: one handle commits a one-entity batch, and each sample is the time
// from Apply's return to the callback of a follower on the same handle
// (woken by the commit: the same-server case) and on a second handle of the
// same store (another server: it finds the batch on its poll, every
// feedPoll). Commits are one at a time, each 20 ms after the previous
// delivery. It reports the p50 and p90 of each.
func BenchmarkFeedLatency(b *testing.B) {
	ctx := context.Background()
	client := benchClient(b)
	defer client.Close()
	w, err := New(ctx, client, WithKeyPrefix("latency"))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	r, err := New(ctx, client, WithKeyPrefix("latency"))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if err := w.Apply(ctx, benchBatch(int(seeds.Add(1)), 1)); err != nil {
		b.Fatal(err)
	}
	const pause = 20 * time.Millisecond
	sample := func(e *Engine, n int) []time.Duration {
		delivered := make(chan time.Time, 1)
		stop := follow(b, ctx, e, delivered)
		defer stop()
		var out []time.Duration
		for range n {
			time.Sleep(pause) // the follower is waiting, as it mostly is
			if err := w.Apply(ctx, benchBatch(int(seeds.Add(1)), 1)); err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			out = append(out, (<-delivered).Sub(t))
		}
		return out
	}
	var same, other []time.Duration
	for b.Loop() {
		same = append(same, sample(w, 100)...)
		other = append(other, sample(r, 100)...)
	}
	slices.Sort(same)
	slices.Sort(other)
	q := func(d []time.Duration, p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) }
	b.ReportMetric(q(same, 0.5), "same-handle-p50-µs")
	b.ReportMetric(q(same, 0.9), "same-handle-p90-µs")
	b.ReportMetric(q(other, 0.5), "other-handle-p50-µs")
	b.ReportMetric(q(other, 0.9), "other-handle-p90-µs")
	b.Logf("%d samples per handle", len(same))
}
