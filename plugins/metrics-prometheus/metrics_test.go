package prommetrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	prommetrics "github.com/ankurah/ankurah-go/plugins/metrics-prometheus"
)

// scrape reads m's Handler as Prometheus does and parses the text format.
func scrape(t testing.TB, m *prommetrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	fams, err := new(expfmt.TextParser).TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the series of fams named name with the given
// labels (name=value pairs): a counter's or gauge's value, a histogram's
// count. A series that is not there is -1.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func want(t testing.TB, fams map[string]*dto.MetricFamily, w float64, name string, labels ...string) {
	t.Helper()
	if got := value(fams, name, labels...); got != w {
		t.Errorf("%s%v = %v, want %v", name, labels, got, w)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func create(t testing.TB, c *core.Context, collection string, year int) error {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	m, err := trx.Create(ctx, collection)
	if err != nil {
		t.Fatal(err)
	}
	m.Set("name", fmt.Sprintf("album %d", year))
	m.Set("year", year)
	return trx.Commit(ctx)
}

// denySecret is the permissive agent, except that nobody may write the
// collection "secret".
type denySecret struct{ policy.Permissive }

func (denySecret) CheckEvent(_ context.Context, _ policy.ContextData, ev *event.Event, _, _ *entity.State) error {
	if ev.Collection == "secret" {
		return fmt.Errorf("%w: secret is read-only", policy.ErrAccessDenied)
	}
	return nil
}

// TestMetrics_ServerCountsCommitsRequestsPeersAndLiveQueries runs a durable
// node with Metrics and an instrumented memory engine, connects a client
// node over a Pipe (real frames), and checks the scraped values after the
// client subscribes and commits and the server's own caller queries and
// commits.
func TestMetrics_ServerCountsCommitsRequestsPeersAndLiveQueries(t *testing.T) {
	ctx := context.Background()
	m := prommetrics.New(nil)
	server, err := core.NewNode(ctx, m.InstrumentEngine(memory.New()), denySecret{}, core.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := m.CollectNode(server); err != nil {
		t.Fatal(err)
	}
	if err := m.CollectNode(server); !errors.Is(err, prommetrics.ErrNodeCollected) {
		t.Fatalf("second CollectNode: %v", err)
	}
	fams := scrape(t, m)
	want(t, fams, 0, "ankurah_peers")
	want(t, fams, 0, "ankurah_commits_total", "outcome", "ok")
	want(t, fams, 0, "ankurah_request_duration_seconds", "kind", "commit")

	local, err := server.Context(nil).Query(ctx, "album", "year > ?", 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	var calls atomic.Int64
	local.Subscribe(func(core.ChangeSet) { calls.Add(1) })

	client, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	if _, err := client.Connect(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	cc := client.Context(nil)
	remote, err := cc.Query(ctx, "album", "year > ?", 1990)
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	for _, y := range []int{1999, 2001, 2003} {
		if err := create(t, cc, "album", y); err != nil {
			t.Fatal(err)
		}
	}
	if err := create(t, server.Context(nil), "album", 2005); err != nil {
		t.Fatal(err)
	}
	if err := create(t, cc, "secret", 1); !errors.Is(err, policy.ErrAccessDenied) {
		t.Fatalf("commit to secret: %v", err)
	}
	waitFor(t, "the client's live query to hold 4 albums", func() bool { return len(remote.Items()) == 4 })
	// The server's own live query: Initial, then one ChangeSet per commit it matches (2001, 2003, 2005).
	waitFor(t, "the server's subscriber to be called 4 times", func() bool { return calls.Load() == 4 })
	waitFor(t, "the deliveries to be reported", func() bool { return value(scrape(t, m), "ankurah_delivery_duration_seconds") == 4 })

	fams = scrape(t, m)
	want(t, fams, 1, "ankurah_peers")
	want(t, fams, 4, "ankurah_commits_total", "outcome", "ok")
	want(t, fams, 1, "ankurah_commits_total", "outcome", "denied")
	want(t, fams, 0, "ankurah_commits_total", "outcome", "conflict")
	want(t, fams, 0, "ankurah_commit_conflicts_total")
	want(t, fams, 4, "ankurah_request_duration_seconds", "kind", "commit")
	want(t, fams, 1, "ankurah_request_errors_total", "kind", "commit")
	want(t, fams, 1, "ankurah_request_duration_seconds", "kind", "subscribe")
	want(t, fams, 0, "ankurah_request_errors_total", "kind", "subscribe")
	want(t, fams, 4, "ankurah_notify_duration_seconds")
	want(t, fams, 4, "ankurah_notified_entities_total")
	want(t, fams, 1, "ankurah_live_queries", "collection", "album", "kind", "local")
	want(t, fams, 1, "ankurah_live_queries", "collection", "album", "kind", "serving")
	want(t, fams, 5, "ankurah_storage_duration_seconds", "op", "apply") // the commits and NewNode storing the system id
	want(t, fams, 0, "ankurah_storage_errors_total", "op", "apply")
	want(t, fams, -1, "ankurah_feed_pending_states") // not a shared store
	if v := value(fams, "ankurah_peer_queue_bytes"); v < 0 {
		t.Errorf("ankurah_peer_queue_bytes missing")
	}
	if v := value(fams, "go_goroutines"); v <= 0 {
		t.Errorf("go_goroutines = %v", v)
	}

	// The client's subscription ends: the serving live query goes, the
	// local one stays.
	remote.Close()
	waitFor(t, "the server to end the subscription", func() bool {
		return value(scrape(t, m), "ankurah_live_queries", "collection", "album", "kind", "serving") == 0
	})
	client.Close()
	waitFor(t, "the server to see the client go", func() bool { return value(scrape(t, m), "ankurah_peers") == 0 })
	want(t, scrape(t, m), 1, "ankurah_live_queries", "collection", "album", "kind", "local")
}

// conflicting is a memory engine whose Apply fails with ErrConflict while
// fail is positive (counting down), as when another writer moves a head.
type conflicting struct {
	*memory.Engine
	fail atomic.Int64
}

func (c *conflicting) Apply(ctx context.Context, b *storage.Batch) error {
	if c.fail.Add(-1) >= 0 {
		return fmt.Errorf("%w: head moved (injected)", storage.ErrConflict)
	}
	return c.Engine.Apply(ctx, b)
}

// TestMetrics_ConflictsAndRetries: a commit that conflicts once is retried
// and succeeds; one that keeps conflicting past its retries fails as a
// conflict.
func TestMetrics_ConflictsAndRetries(t *testing.T) {
	ctx := context.Background()
	m := prommetrics.New(nil)
	eng := &conflicting{Engine: memory.New()}
	n, err := core.NewNode(ctx, m.InstrumentEngine(eng), policy.Permissive{}, core.WithMetrics(m), core.WithCommitRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := n.Context(nil)
	eng.fail.Store(1)
	if err := create(t, c, "album", 2001); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m)
	want(t, fams, 1, "ankurah_commits_total", "outcome", "ok")
	want(t, fams, 1, "ankurah_commit_conflicts_total")
	want(t, fams, 1, "ankurah_commit_retries_total")
	want(t, fams, 3, "ankurah_storage_duration_seconds", "op", "apply") // the system id, then the two attempts
	want(t, fams, 1, "ankurah_storage_errors_total", "op", "apply")

	eng.fail.Store(100)
	if err := create(t, c, "album", 2002); !errors.Is(err, core.ErrRetriesExhausted) {
		t.Fatalf("commit: %v", err)
	}
	eng.fail.Store(0)
	fams = scrape(t, m)
	want(t, fams, 1, "ankurah_commits_total", "outcome", "ok")
	want(t, fams, 1, "ankurah_commits_total", "outcome", "conflict")
	want(t, fams, 4, "ankurah_commit_conflicts_total") // 1, then 3 attempts
	want(t, fams, 3, "ankurah_commit_retries_total")   // 1, then 2 retries
	want(t, fams, 1, "ankurah_notify_duration_seconds")
}

// TestMetrics_SharedStorageFeed: two nodes on one store follow its change
// feed; each counts its own batch as self and the other's as other, and
// nothing is left pending once the commits returned and were delivered.
func TestMetrics_SharedStorageFeed(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	ma, mb := prommetrics.New(nil), prommetrics.New(nil)
	a, err := core.NewNode(ctx, ma.InstrumentEngine(store), policy.Permissive{}, core.WithMetrics(ma), core.WithSharedStorage())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := core.NewNode(ctx, mb.InstrumentEngine(store), policy.Permissive{}, core.WithMetrics(mb), core.WithSharedStorage())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, x := range []struct {
		m *prommetrics.Metrics
		n *core.Node
	}{{ma, a}, {mb, b}} {
		if err := x.m.CollectNode(x.n); err != nil {
			t.Fatal(err)
		}
	}
	if err := create(t, a.Context(nil), "album", 2001); err != nil {
		t.Fatal(err)
	}
	if err := create(t, b.Context(nil), "album", 2002); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*prommetrics.Metrics{"a": ma, "b": mb} {
		waitFor(t, name+" to hear of both batches", func() bool {
			f := scrape(t, m)
			return value(f, "ankurah_feed_batches_total", "origin", "self") == 1 && value(f, "ankurah_feed_batches_total", "origin", "other") == 1
		})
		fams := scrape(t, m)
		want(t, fams, 1, "ankurah_commits_total", "outcome", "ok")
		want(t, fams, 1, "ankurah_notify_duration_seconds")
		want(t, fams, 0, "ankurah_feed_pending_states")
		want(t, fams, 0, "ankurah_feed_behind_seconds")
		want(t, fams, 0, "ankurah_feed_restarts_total", "reason", "gap")
		want(t, fams, 1, "ankurah_storage_duration_seconds", "op", "feed_head")
	}
}

// heldFeed is a memory store whose change feed can be held back: while
// hold is set, every batch waits for it to close before it is delivered.
type heldFeed struct {
	*memory.Engine
	hold atomic.Pointer[chan struct{}]
}

func (h *heldFeed) Follow(ctx context.Context, after storage.FeedToken, f func(storage.FeedBatch) error) error {
	return h.Engine.Follow(ctx, after, func(b storage.FeedBatch) error {
		if c := h.hold.Load(); c != nil {
			select {
			case <-*c:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return f(b)
	})
}

// TestMetrics_FeedLagWhileTheFeedHoldsBack: while the change feed has not
// delivered a node's own commit, feed_pending_states counts its states and
// feed_behind_seconds grows with the node's clock; once it delivers, both
// are 0 again.
func TestMetrics_FeedLagWhileTheFeedHoldsBack(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var clock atomic.Int64 // nanoseconds after start
	now := func() time.Time { return start.Add(time.Duration(clock.Load())) }
	store := &heldFeed{Engine: memory.New()}
	m := prommetrics.New(nil)
	n, err := core.NewNode(ctx, m.InstrumentEngine(store), policy.Permissive{}, core.WithMetrics(m), core.WithSharedStorage(),
		core.WithClock(now), core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := m.CollectNode(n); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	store.hold.Store(&release)

	committed := make(chan error, 1)
	go func() {
		c := n.Context(nil)
		trx := c.Begin()
		for _, name := range []string{"OK Computer", "Kid A"} {
			a, err := trx.Create(ctx, "album")
			if err != nil {
				committed <- err
				return
			}
			a.Set("name", name)
		}
		committed <- trx.Commit(ctx)
	}()
	waitFor(t, "the commit's two states to wait for the feed", func() bool {
		return value(scrape(t, m), "ankurah_feed_pending_states") == 2
	})
	clock.Add(int64(3 * time.Second))
	fams := scrape(t, m)
	want(t, fams, 2, "ankurah_feed_pending_states")
	want(t, fams, 3, "ankurah_feed_behind_seconds")
	want(t, fams, 0, "ankurah_feed_batches_total", "origin", "self")

	close(release)
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the feed to deliver the batch", func() bool {
		return value(scrape(t, m), "ankurah_feed_batches_total", "origin", "self") == 1
	})
	fams = scrape(t, m)
	want(t, fams, 0, "ankurah_feed_pending_states")
	want(t, fams, 0, "ankurah_feed_behind_seconds")
}
