// Package prommetrics reports an Ankurah node's work as Prometheus metrics:
// it implements core.Metrics with github.com/prometheus/client_golang,
// reads the node's levels (core.Node.Stats) when scraped, times the calls of
// a storage engine (InstrumentEngine), and serves them all in the
// Prometheus text format (Handler). `ankurah serve` serves it at /metrics;
// a program that embeds a node wires it the same way:
//
//	m := prommetrics.New(nil)
//	engine = m.InstrumentEngine(engine)
//	node, err := core.NewNode(ctx, engine, agent, core.WithMetrics(m))
//	…
//	m.CollectNode(node)
//	mux.Handle("/metrics", m.Handler())
//
// docs/operations.md lists every metric with its labels and meaning.
package prommetrics

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ankurah/ankurah-go/core"
)

// ErrNodeCollected: CollectNode was called a second time (one Metrics
// reports one node's levels).
var ErrNodeCollected = errors.New("prommetrics: a node is already collected")

// namespace prefixes every metric's name.
const namespace = "ankurah"

// Buckets of the latency histograms, in seconds: from 100 µs to about 6.5 s
// for requests and notifications, from 10 µs to about 2.6 s for storage
// calls (each bucket four times the one before).
var (
	latencyBuckets = prometheus.ExponentialBuckets(0.0001, 4, 9)
	storageBuckets = prometheus.ExponentialBuckets(0.00001, 4, 10)
)

// Metrics is a core.Metrics that keeps Prometheus metrics. It is safe for
// concurrent use; its methods only update counters and histograms (no lock
// of its own, no I/O), as core.Metrics requires.
type Metrics struct {
	core.NopMetrics

	reg prometheus.Registerer
	gat prometheus.Gatherer

	commits   map[string]prometheus.Counter // by outcome
	conflicts prometheus.Counter
	retries   prometheus.Counter
	requests  map[string]prometheus.Observer // by kind
	reqErrors map[string]prometheus.Counter  // by kind
	notify    prometheus.Observer
	notified  prometheus.Counter
	delivered prometheus.Observer
	feed      map[bool]prometheus.Counter // by own
	restarts  map[bool]prometheus.Counter // by gap

	storageSeconds *prometheus.HistogramVec
	storageErrors  *prometheus.CounterVec

	mu        sync.Mutex
	collected bool
}

var _ core.Metrics = (*Metrics)(nil)

// New returns Metrics registered with reg. A nil reg is a new registry that
// also holds the Go runtime's and the process's metrics (go_*, process_*);
// Handler serves reg when it is also a prometheus.Gatherer (a
// *prometheus.Registry is), else prometheus.DefaultGatherer. New panics if
// reg already holds metrics of the same names, as prometheus.MustRegister
// does.
func New(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	m := &Metrics{reg: reg, gat: prometheus.DefaultGatherer}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gat = g
	}
	commits := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "commits_total",
		Help: "Commits a durable node wrote or gave up on (local transactions and commits forwarded by clients), by outcome: ok, conflict (kept conflicting until retries or its context ran out), denied (refused by the policy agent), error."}, []string{"outcome"})
	m.commits = map[string]prometheus.Counter{}
	for _, o := range []string{core.CommitOK, core.CommitConflict, core.CommitDenied, core.CommitError} {
		m.commits[o] = commits.WithLabelValues(o)
	}
	m.conflicts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "commit_conflicts_total",
		Help: "Storage batches refused because another writer moved an entity's head meanwhile."})
	m.retries = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "commit_retries_total",
		Help: "Commits merged onto the new heads after a conflict and tried again."})
	requests := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "request_duration_seconds",
		Help: "Time a durable node took to serve a peer's request, to its answer (or last streamed part) being queued, by kind.", Buckets: latencyBuckets}, []string{"kind"})
	reqErrors := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "request_errors_total",
		Help: "Peers' requests answered with an error, by kind."}, []string{"kind"})
	m.requests, m.reqErrors = map[string]prometheus.Observer{}, map[string]prometheus.Counter{}
	for _, k := range core.RequestKinds {
		m.requests[k], m.reqErrors[k] = requests.WithLabelValues(k), reqErrors.WithLabelValues(k)
	}
	notify := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "notify_duration_seconds",
		Help: "Time from a batch's storage write beginning to its changes being handed to the live queries, watches and subscribed peers' queues it touches (with a shared store: to the change feed delivering it).", Buckets: latencyBuckets})
	m.notify = notify
	m.notified = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "notified_entities_total",
		Help: "Entity states of written batches handed to live queries, watches and subscribed peers (the count of notify_duration_seconds is in batches)."})
	delivered := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "delivery_duration_seconds",
		Help: "Time from a live query's ChangeSet being queued for its subscribers' callbacks to the last of them returning (live queries of code in the process; subscriptions of peers are in notify_duration_seconds).", Buckets: latencyBuckets})
	m.delivered = delivered
	feed := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "feed_batches_total",
		Help: "Batches the storage change feed delivered, by origin: self (this node wrote it) or other (another server sharing the store)."}, []string{"origin"})
	m.feed = map[bool]prometheus.Counter{true: feed.WithLabelValues("self"), false: feed.WithLabelValues("other")}
	restarts := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "feed_restarts_total",
		Help: "Times following the storage change feed started again, by reason: gap (it could not resume; every live query was read again) or error."}, []string{"reason"})
	m.restarts = map[bool]prometheus.Counter{true: restarts.WithLabelValues("gap"), false: restarts.WithLabelValues("error")}
	m.storageSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "storage_duration_seconds",
		Help: "Time of calls to the storage engine (InstrumentEngine), by operation.", Buckets: storageBuckets}, []string{"op"})
	m.storageErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "storage_errors_total",
		Help: "Calls to the storage engine that failed, by operation (a state or collection not found is not a failure)."}, []string{"op"})
	reg.MustRegister(commits, m.conflicts, m.retries, requests, reqErrors, notify, m.notified, delivered, feed, restarts, m.storageSeconds, m.storageErrors)
	return m
}

// Commit counts a commit by outcome.
func (m *Metrics) Commit(outcome string) {
	if c := m.commits[outcome]; c != nil {
		c.Inc()
	}
}

// Conflict counts a batch refused for a conflict.
func (m *Metrics) Conflict() { m.conflicts.Inc() }

// Retry counts a commit tried again.
func (m *Metrics) Retry() { m.retries.Inc() }

// Request records a request's latency and whether it failed.
func (m *Metrics) Request(kind string, d time.Duration, failed bool) {
	o, ok := m.requests[kind]
	if !ok {
		kind = "unknown"
		o = m.requests[kind]
	}
	o.Observe(d.Seconds())
	if failed {
		m.reqErrors[kind].Inc()
	}
}

// Notify records a batch's write→notify latency.
func (m *Metrics) Notify(entities int, d time.Duration) {
	m.notify.Observe(d.Seconds())
	m.notified.Add(float64(entities))
}

// Delivered records a ChangeSet's queue→callbacks latency.
func (m *Metrics) Delivered(d time.Duration) { m.delivered.Observe(d.Seconds()) }

// FeedBatch counts a batch the change feed delivered.
func (m *Metrics) FeedBatch(own bool) { m.feed[own].Inc() }

// FeedRestart counts a restart of following the change feed.
func (m *Metrics) FeedRestart(gap bool) { m.restarts[gap].Inc() }

// Handler serves the registry's metrics in the Prometheus text format (or
// another format the scraper asks for).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gat, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// CollectNode has every scrape report n's levels (core.Node.Stats): peers,
// their queues, live queries by collection, the change feed's backlog. One
// Metrics collects one node: a second call returns ErrNodeCollected.
func (m *Metrics) CollectNode(n *core.Node) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.collected {
		return ErrNodeCollected
	}
	if err := m.reg.Register(newNodeCollector(n)); err != nil {
		return err
	}
	m.collected = true
	return nil
}
