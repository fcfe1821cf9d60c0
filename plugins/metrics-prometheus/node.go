package prommetrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankurah/ankurah-go/core"
)

// nodeCollector reports a node's levels, read from core.Node.Stats at each
// scrape (so they never drift from the node's own counts).
type nodeCollector struct {
	n *core.Node
}

func gauge(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

var (
	descPeers          = gauge("peers", "Open connections to other nodes (accepted and made).")
	descQueueFrames    = gauge("peer_queue_frames", "Frames waiting in every peer's outgoing queue together.")
	descQueueBytes     = gauge("peer_queue_bytes", "Bytes waiting in every peer's outgoing queue together (held to the server-queue-bytes limit).")
	descQueueMaxFrames = gauge("peer_queue_max_frames", "Frames waiting in the fullest single peer's outgoing queue.")
	descQueueMaxBytes  = gauge("peer_queue_max_bytes", "Bytes waiting in the fullest single peer's outgoing queue (held to the peer-queue-bytes limit).")
	descRequestBytes   = gauge("request_queue_bytes", "Bytes of peers' requests waiting for their connection's worker.")
	descLiveQueries    = gauge("live_queries", "Live queries by collection and kind: local (held by the node's own callers) or serving (serving a peer's subscription).", "collection", "kind")
	descFeedPending    = gauge("feed_pending_states", "Entity states this node wrote that the storage change feed has not delivered yet (only with a shared store).")
	descFeedBehind     = gauge("feed_behind_seconds", "How long ago the oldest state of feed_pending_states was written; 0 when none waits (only with a shared store).")
)

func newNodeCollector(n *core.Node) *nodeCollector { return &nodeCollector{n: n} }

// Describe sends the descriptions of every level.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeers, descQueueFrames, descQueueBytes, descQueueMaxFrames, descQueueMaxBytes, descRequestBytes, descLiveQueries, descFeedPending, descFeedBehind} {
		ch <- d
	}
}

// Collect sends the node's levels as they are now.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.n.Stats()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	g(descPeers, float64(s.Peers))
	g(descQueueFrames, float64(s.QueueFrames))
	g(descQueueBytes, float64(s.QueueBytes))
	g(descQueueMaxFrames, float64(s.MaxQueueFrames))
	g(descQueueMaxBytes, float64(s.MaxQueueBytes))
	g(descRequestBytes, float64(s.RequestBytes))
	for _, lq := range s.LiveQueries {
		g(descLiveQueries, float64(lq.Local), lq.Collection, "local")
		g(descLiveQueries, float64(lq.Serving), lq.Collection, "serving")
	}
	if s.Shared {
		g(descFeedPending, float64(s.FeedPending))
		g(descFeedBehind, s.FeedBehind.Seconds())
	}
}
