package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// recorder is a core.Metrics that keeps what it is told.
type recorder struct {
	core.NopMetrics
	mu        sync.Mutex
	commits   map[string]int
	requests  map[string]int
	failed    map[string]int
	notified  int
	batches   int
	delivered int
	negative  bool // a negative duration was reported
}

func newRecorder() *recorder {
	return &recorder{commits: map[string]int{}, requests: map[string]int{}, failed: map[string]int{}}
}

func (r *recorder) Commit(outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits[outcome]++
}

func (r *recorder) Request(kind string, d time.Duration, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[kind]++
	if failed {
		r.failed[kind]++
	}
	r.negative = r.negative || d < 0
}

func (r *recorder) Notify(entities int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notified += entities
	r.batches++
	r.negative = r.negative || d < 0
}

func (r *recorder) Delivered(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered++
	r.negative = r.negative || d < 0
}

func (r *recorder) deliveries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered
}

func (r *recorder) snapshot() (commits, requests, failed map[string]int, notified, batches int, negative bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return cp(r.commits), cp(r.requests), cp(r.failed), r.notified, r.batches, r.negative
}

// TestMetrics_ReportsCommitsRequestsAndNotifications: a durable node with
// Metrics reports its own and a client's commits, the client's requests by
// kind, and one notification per written batch; Stats counts the
// connection and the live queries by collection and kind.
func TestMetrics_ReportsCommitsRequestsAndNotifications(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	server, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithMetrics(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if s := server.Stats(); s.Peers != 0 || len(s.LiveQueries) != 0 || s.Shared {
		t.Fatalf("stats of a new node: %+v", s)
	}
	own, err := server.Context(nil).Query(ctx, "album", "year > ?", 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	var calls atomic.Int64 // Initial, then one per commit of albums after 2000
	own.Subscribe(func(core.ChangeSet) { calls.Add(1) })
	client := newClient(t)
	link(t, server, client)
	sub, err := client.Context(nil).Query(ctx, "album", "true")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// Three commits, the client's second of two entities.
	createAlbums(t, client.Context(nil), album{"a", "x", 2001})
	createAlbums(t, client.Context(nil), album{"b", "y", 2002}, album{"c", "z", 2003})
	createAlbums(t, server.Context(nil), album{"d", "w", 2004})
	if _, err := client.Context(nil).Fetch(ctx, "album", "year = ?", 2001); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client's live query to hold 4 albums", func() bool { return len(sub.Items()) == 4 })

	commits, requests, failed, notified, batches, negative := rec.snapshot()
	if commits[core.CommitOK] != 3 || len(commits) != 1 {
		t.Errorf("commits %v, want 3 ok", commits)
	}
	if requests["commit"] != 2 || requests["subscribe"] != 1 || requests["fetch"] != 1 || len(failed) != 0 {
		t.Errorf("requests %v (failed %v), want 2 commit, 1 subscribe, 1 fetch, none failed", requests, failed)
	}
	if notified != 4 || batches != 3 {
		t.Errorf("notified %d entities in %d batches, want 4 in 3", notified, batches)
	}
	if negative {
		t.Errorf("a negative duration was reported")
	}
	waitFor(t, "the server's subscriber to be called 4 times", func() bool { return calls.Load() == 4 })
	waitFor(t, "4 deliveries to be reported", func() bool { return rec.deliveries() == 4 })
	s := server.Stats()
	if s.Peers != 1 {
		t.Errorf("stats: %d peers, want 1", s.Peers)
	}
	if want := []core.LiveQueryCount{{Collection: "album", Local: 1, Serving: 1}}; fmt.Sprint(s.LiveQueries) != fmt.Sprint(want) {
		t.Errorf("stats: live queries %v, want %v", s.LiveQueries, want)
	}
}

// denyWrites lets every caller read and nobody write.
type denyWrites struct{ policy.Permissive }

func (denyWrites) CheckEvent(context.Context, policy.ContextData, *event.Event, *entity.State, *entity.State) error {
	return fmt.Errorf("%w: read-only", policy.ErrAccessDenied)
}

// TestMetrics_RefusedCommitIsDenied: a commit the policy agent refuses is
// reported as denied, not as an error.
func TestMetrics_RefusedCommitIsDenied(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder()
	n, err := core.NewNode(ctx, memory.New(), denyWrites{}, core.WithMetrics(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	trx := n.Context(nil).Begin()
	m, err := trx.Create(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	m.Set("name", "x")
	if err := trx.Commit(ctx); !errors.Is(err, policy.ErrAccessDenied) {
		t.Fatalf("commit: %v", err)
	}
	if commits, _, _, notified, _, _ := rec.snapshot(); commits[core.CommitDenied] != 1 || len(commits) != 1 || notified != 0 {
		t.Fatalf("commits %v, notified %d; want 1 denied, nothing notified", commits, notified)
	}
}

// BenchmarkCommit_Metrics is BenchmarkCommit_Memory (one edit per commit,
// backend cache on) without Metrics and with NopMetrics: the cost of the
// hooks themselves (the clock reads and calls) on the commit path.
func BenchmarkCommit_Metrics(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []core.Option
	}{
		{"metrics=none", nil},
		{"metrics=nop", []core.Option{core.WithMetrics(core.NopMetrics{})}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
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
