package core

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Metrics observes a node's work, for an operator's monitoring: a node given
// one (WithMetrics) calls it as commits, requests and notifications happen;
// what is rather a level than an event (peers, queues, live queries, the
// change feed's backlog) Node.Stats reports when asked. Core holds no
// monitoring library: an adapter (plugins/metrics-prometheus) turns these
// calls into a library's counters and histograms.
//
// The node calls Metrics from many goroutines at once, some of them holding
// the node's locks (the change log's among them): every method must be safe
// for concurrent use, return quickly, never block and never call the node.
// Durations are measured with the node's clock (WithClock).
//
// Implementations embed NopMetrics, so that methods added later are no-ops
// for them.
type Metrics interface {
	// Commit reports a commit a durable node wrote or gave up on — a local
	// transaction or a commit a client forwarded — with its outcome:
	// CommitOK, CommitConflict (it kept conflicting until retries or its
	// context ran out), CommitDenied (the policy agent refused an event) or
	// CommitError.
	Commit(outcome string)
	// Conflict reports a storage batch refused because another writer moved
	// an entity's head meanwhile (storage.ErrConflict).
	Conflict()
	// Retry reports a commit merged onto the new heads after a conflict and
	// tried again.
	Retry()
	// Request reports a peer's request a durable node served: kind is one of
	// RequestKinds, d the time from the worker taking it to its answer (or
	// its last streamed part) being queued, failed whether it was answered
	// with an error.
	Request(kind string, d time.Duration, failed bool)
	// Notify reports a written batch of entities handed to the live
	// queries, watches and subscribed peers' outgoing queues it touches, d
	// after its storage write began. With shared storage (WithSharedStorage)
	// only this node's own batches are reported, when the change feed
	// delivered them.
	Notify(entities int, d time.Duration)
	// Delivered reports a ChangeSet of a live query delivered to its
	// subscribers' callbacks (Subscribe): d from it being queued for them
	// (Notify's hand-off) to the last callback returning, which includes
	// waiting behind the query's earlier ChangeSets.
	Delivered(d time.Duration)
	// FeedBatch reports a batch the change feed delivered; own is whether
	// this node wrote it.
	FeedBatch(own bool)
	// FeedRestart reports that following the change feed stopped and starts
	// again: gap when the feed could not resume (every live query is read
	// again), otherwise after an error.
	FeedRestart(gap bool)
}

// The outcomes Metrics.Commit reports.
const (
	CommitOK       = "ok"
	CommitConflict = "conflict"
	CommitDenied   = "denied"
	CommitError    = "error"
)

// RequestKinds are the kinds of request Metrics.Request reports, as named
// in docs/sync-protocol.md.
var RequestKinds = []string{"commit", "get", "get_events", "fetch", "subscribe", "unsubscribe", "aggregate", "unknown"}

// NopMetrics is a Metrics that does nothing: embed it in an implementation
// so methods added to Metrics later do nothing for it. A node without
// WithMetrics calls none at all.
type NopMetrics struct{}

// Commit does nothing.
func (NopMetrics) Commit(string) {}

// Conflict does nothing.
func (NopMetrics) Conflict() {}

// Retry does nothing.
func (NopMetrics) Retry() {}

// Request does nothing.
func (NopMetrics) Request(string, time.Duration, bool) {}

// Notify does nothing.
func (NopMetrics) Notify(int, time.Duration) {}

// Delivered does nothing.
func (NopMetrics) Delivered(time.Duration) {}

// FeedBatch does nothing.
func (NopMetrics) FeedBatch(bool) {}

// FeedRestart does nothing.
func (NopMetrics) FeedRestart(bool) {}

// WithMetrics has the node report its work to m (none by default, which
// costs nothing: the node then neither reads its clock nor calls anything for
// metrics). A nil m is the default.
func WithMetrics(m Metrics) Option { return func(c *config) { c.metrics = m } }

// Stats is what Node.Stats reports: the node's levels at one moment.
type Stats struct {
	// Peers is the number of open connections (accepted and made).
	Peers int
	// QueueFrames and QueueBytes are what waits in every peer's outgoing
	// queue together; MaxQueueFrames and MaxQueueBytes the largest single
	// queue's (a slow reader shows there before it is disconnected).
	QueueFrames, QueueBytes       int
	MaxQueueFrames, MaxQueueBytes int
	// RequestBytes is the size of the requests waiting for their
	// connection's worker, across every connection.
	RequestBytes int64
	// LiveQueries counts the live queries by collection.
	LiveQueries []LiveQueryCount
	// Shared is whether the node follows its engine's change feed
	// (WithSharedStorage); FeedPending is then the number of entity states
	// this node wrote that the feed has not yet delivered, and FeedBehind
	// how long ago the oldest of them was written (0 when none waits).
	Shared      bool
	FeedPending int
	FeedBehind  time.Duration
}

// LiveQueryCount is the number of live queries of one collection: Local ones
// held by the node's own callers, and Serving ones serving peers'
// subscriptions.
type LiveQueryCount struct {
	Collection     string
	Local, Serving int
}

// Stats reports the node's levels as they are now (Metrics has the
// events). It takes each lock it needs — the peer set, one peer's queue, the
// reactor's, the feed's — just long enough to count, one at a time, and
// runs no user code; levels that change meanwhile may be counted before or
// after their change.
func (n *Node) Stats() Stats {
	var s Stats
	n.peersMu.Lock()
	peers := make([]*Peer, 0, len(n.peers))
	for p := range n.peers {
		peers = append(peers, p)
	}
	n.peersMu.Unlock()
	for _, p := range peers {
		closed, frames, bytes := p.queueLen()
		if closed {
			continue
		}
		s.Peers++
		s.QueueFrames += frames
		s.QueueBytes += bytes
		s.MaxQueueFrames = max(s.MaxQueueFrames, frames)
		s.MaxQueueBytes = max(s.MaxQueueBytes, bytes)
		s.RequestBytes += p.reqBytes.Load()
	}
	by := map[string]*LiveQueryCount{}
	for _, lq := range n.reactor.all() {
		c := by[lq.collection]
		if c == nil {
			c = &LiveQueryCount{Collection: lq.collection}
			by[lq.collection] = c
		}
		if lq.sink != nil {
			c.Serving++
		} else {
			c.Local++
		}
	}
	for _, c := range by {
		s.LiveQueries = append(s.LiveQueries, *c)
	}
	sort.Slice(s.LiveQueries, func(i, j int) bool { return s.LiveQueries[i].Collection < s.LiveQueries[j].Collection })
	if f := n.feed; f != nil {
		s.Shared = true
		var oldest time.Time
		f.mu.Lock()
		s.FeedPending = len(f.expected)
		for _, x := range f.expected {
			if !x.at.IsZero() && (oldest.IsZero() || x.at.Before(oldest)) {
				oldest = x.at
			}
		}
		f.mu.Unlock()
		if !oldest.IsZero() {
			s.FeedBehind = max(n.cfg.now().Sub(oldest), 0)
		}
	}
	return s
}

// metricsNow is the time a measured step starts: zero, read from no clock,
// when the node has no Metrics.
func (n *Node) metricsNow() time.Time {
	if n.cfg.metrics == nil {
		return time.Time{}
	}
	return n.cfg.now()
}

// observeCommit reports a commit's outcome (commitEvents, deferred).
func (n *Node) observeCommit(err *error) {
	m := n.cfg.metrics
	if m == nil {
		return
	}
	switch e := *err; {
	case e == nil:
		m.Commit(CommitOK)
	case errors.Is(e, ErrRetriesExhausted):
		m.Commit(CommitConflict)
	case errors.Is(e, policy.ErrAccessDenied):
		m.Commit(CommitDenied)
	default:
		m.Commit(CommitError)
	}
}

// observeRetry reports a commit retried after a conflict.
func (n *Node) observeRetry() {
	if m := n.cfg.metrics; m != nil {
		m.Retry()
	}
}

// observeWrite reports a write's conflict, or the time from start to its
// publication (the write step, pipeline.go; with shared storage the feed
// publishes, and observeFeed reports it).
func (n *Node) observeWrite(start time.Time, entities int, err error) {
	m := n.cfg.metrics
	if m == nil {
		return
	}
	if errors.Is(err, storage.ErrConflict) {
		m.Conflict()
	}
	if err == nil && n.feed == nil && entities > 0 {
		m.Notify(entities, n.cfg.now().Sub(start))
	}
}

// observeFeed reports a batch the change feed delivered (own: this node
// wrote it), with the times this node's own states it published were
// written (feed.go).
func (n *Node) observeFeed(own bool, written []time.Time) {
	m := n.cfg.metrics
	if m == nil {
		return
	}
	m.FeedBatch(own)
	n.observeNotify(written)
}

// observeNotify reports this node's own states published, with the times
// they were written.
func (n *Node) observeNotify(written []time.Time) {
	m := n.cfg.metrics
	if m == nil || len(written) == 0 {
		return
	}
	first := written[0]
	for _, t := range written[1:] {
		if t.Before(first) {
			first = t
		}
	}
	if !first.IsZero() {
		m.Notify(len(written), n.cfg.now().Sub(first))
	}
}

// deliveryStamp is when a live query's ChangeSet was queued for its
// subscribers, by the node that reports its delivery (the zero stamp, from
// a node without metrics, reports nothing).
type deliveryStamp struct {
	n  *Node
	at time.Time
}

// stampDelivery stamps a ChangeSet being queued (livequery.go).
func (n *Node) stampDelivery() deliveryStamp {
	if n.cfg.metrics == nil {
		return deliveryStamp{}
	}
	return deliveryStamp{n, n.cfg.now()}
}

// delivered reports the ChangeSet delivered to that many callbacks.
func (s deliveryStamp) delivered(callbacks int) {
	if s.n == nil || callbacks == 0 {
		return
	}
	s.n.cfg.metrics.Delivered(s.n.cfg.now().Sub(s.at))
}

// observeFeedRestart reports that following the feed starts again.
func (n *Node) observeFeedRestart(gap bool) {
	if m := n.cfg.metrics; m != nil {
		m.FeedRestart(gap)
	}
}

// serveObserved is serve, reporting the request to the node's Metrics.
func (p *Peer) serveObserved(ctx context.Context, r *transport.Request, onReader bool) *transport.Response {
	n := p.node
	m := n.cfg.metrics
	if m == nil {
		return p.serve(ctx, r, onReader)
	}
	start := n.cfg.now()
	resp := p.serve(ctx, r, onReader)
	m.Request(requestKind(r), n.cfg.now().Sub(start), resp != nil && resp.Error != "")
	return resp
}

func requestKind(r *transport.Request) string {
	switch {
	case r.Commit != nil:
		return "commit"
	case r.Get != nil:
		return "get"
	case r.GetEvents != nil:
		return "get_events"
	case r.Fetch != nil:
		return "fetch"
	case r.Subscribe != nil:
		return "subscribe"
	case r.Unsubscribe != nil:
		return "unsubscribe"
	case r.Aggregate != nil:
		return "aggregate"
	}
	return "unknown"
}
