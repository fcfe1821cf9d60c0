package core

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
)

// Snapshot is what Node.Inspect reports: the node, its open connections
// with their queues and subscriptions, and the live queries its own callers
// hold. It is a copy, safe to keep and to encode as JSON.
type Snapshot struct {
	// NodeID, Role ("durable" or "ephemeral") and SystemID describe the node.
	NodeID   string `json:"node_id"`
	Role     string `json:"role"`
	SystemID string `json:"system_id,omitempty"`
	// Time is when the snapshot was taken, by the node's clock (WithClock).
	Time time.Time `json:"time"`
	// QueuedBytes is what waits in every peer's outgoing queue together
	// (held to limits.ServerQueueBytes).
	QueuedBytes int64 `json:"queued_bytes"`
	// Peers are the open connections, by connection time, then node id.
	Peers []PeerInfo `json:"peers"`
	// LiveQueries are the live queries of the node's own callers (not those
	// serving a peer's subscriptions, which are under their peer), by id.
	LiveQueries []LiveQueryInfo `json:"live_queries"`
}

// PeerInfo describes one open connection.
type PeerInfo struct {
	// NodeID is the remote node's id; Durable whether it is a durable node.
	NodeID  string `json:"node_id"`
	Durable bool   `json:"durable"`
	// Upstream is true for the connection this (ephemeral) node made to its
	// durable peer, false for a connection this node accepted and serves.
	Upstream bool `json:"upstream"`
	// ConnectedSince is when the handshake completed, by the node's clock.
	ConnectedSince time.Time `json:"connected_since"`
	// QueueFrames and QueueBytes are the outgoing frames waiting for the
	// connection's writer.
	QueueFrames int `json:"queue_frames"`
	QueueBytes  int `json:"queue_bytes"`
	// CredentialsExpire is when the peer's credentials expire (zero: never);
	// Paused is true while they have expired and its subscriptions wait for
	// a refresh.
	CredentialsExpire time.Time `json:"credentials_expire,omitzero"`
	Paused            bool      `json:"paused"`
	// Caller is the context data the policy agent made of the peer's
	// credentials (nil for a connection this node made). It is not encoded:
	// what it holds is the agent's business, and may be secret.
	Caller policy.ContextData `json:"-"`
	// Subscriptions are the live queries serving the peer's subscriptions,
	// by subscription number.
	Subscriptions []LiveQueryInfo `json:"subscriptions"`
}

// LiveQueryInfo describes one live query.
type LiveQueryInfo struct {
	// ID is the live query's id; Sub, for one serving a peer, the peer's
	// subscription number (0 otherwise).
	ID  string `json:"id"`
	Sub uint64 `json:"sub,omitempty"`
	// Collection and Selection are what it watches, as the caller wrote it
	// (AnkQL with the arguments bound in); Effective is the selection it
	// runs, with the policy agent's read filter ANDed in.
	Collection string `json:"collection"`
	Selection  string `json:"selection"`
	Effective  string `json:"effective"`
	// Items is the size of its result set; Subscribers the callbacks
	// subscribed to it; Pending the ChangeSets waiting to be delivered.
	Items       int `json:"items"`
	Subscribers int `json:"subscribers"`
	Pending     int `json:"pending"`
}

// Inspect reports the node's connections and live queries as they are now,
// for an operator's tools (the inspector of ankurah serve). It only reads:
// each lock it takes (the peer set, one peer's queue or subscriptions, one
// live query) is held just to copy a few fields, never two at once, and no
// user code runs. Entries that come and go meanwhile may or may not appear.
// ctx is accepted for symmetry with the node's other calls; Inspect does no
// I/O.
func (n *Node) Inspect(ctx context.Context) Snapshot {
	_ = ctx
	s := Snapshot{NodeID: n.id.String(), Role: "durable", SystemID: n.cfg.systemID, Time: n.cfg.now(), QueuedBytes: n.queued.Used()}
	if n.cfg.role == Ephemeral {
		s.Role = "ephemeral"
	}
	n.peersMu.Lock()
	peers := make([]*Peer, 0, len(n.peers))
	for p := range n.peers {
		peers = append(peers, p)
	}
	n.peersMu.Unlock()
	n.upMu.Lock()
	up := n.up.peer
	n.upMu.Unlock()

	served := map[*LiveQuery]bool{}
	for _, p := range peers {
		pi := PeerInfo{NodeID: p.remote.NodeID, Durable: p.remote.Durable, Upstream: p == up, ConnectedSince: p.since}
		closed, frames, bytes := p.queueLen()
		pi.QueueFrames, pi.QueueBytes = frames, bytes
		if closed {
			continue
		}
		p.cdataMu.Lock()
		pi.Caller, pi.CredentialsExpire = p.cdata, p.expires
		p.cdataMu.Unlock()
		pi.Paused = p.paused.Load() || p.refreshing.Load()
		p.subMu.Lock()
		subs := make(map[uint64]*LiveQuery, len(p.subs))
		for k, lq := range p.subs {
			subs[k] = lq
		}
		p.subMu.Unlock()
		pi.Subscriptions = make([]LiveQueryInfo, 0, len(subs))
		for k, lq := range subs {
			served[lq] = true
			li := lq.info()
			li.Sub = k
			pi.Subscriptions = append(pi.Subscriptions, li)
		}
		slices.SortFunc(pi.Subscriptions, func(a, b LiveQueryInfo) int { return cmp.Compare(a.Sub, b.Sub) })
		s.Peers = append(s.Peers, pi)
	}
	slices.SortFunc(s.Peers, func(a, b PeerInfo) int {
		if c := a.ConnectedSince.Compare(b.ConnectedSince); c != 0 {
			return c
		}
		return strings.Compare(a.NodeID, b.NodeID)
	})
	for _, lq := range n.reactor.all() {
		if served[lq] {
			continue
		}
		s.LiveQueries = append(s.LiveQueries, lq.info())
	}
	slices.SortFunc(s.LiveQueries, func(a, b LiveQueryInfo) int { return strings.Compare(a.ID, b.ID) })
	if s.Peers == nil {
		s.Peers = []PeerInfo{}
	}
	if s.LiveQueries == nil {
		s.LiveQueries = []LiveQueryInfo{}
	}
	return s
}

// info describes the live query (its own locks taken briefly, one at a time).
func (lq *LiveQuery) info() LiveQueryInfo {
	li := LiveQueryInfo{ID: lq.qid.String(), Collection: lq.collection}
	lq.current(func(items []*View, _ map[id.EntityID]*View) { li.Items = len(items) }) // a silent member's are its group's
	lq.mu.Lock()
	bound, eff := lq.bound, lq.eff
	li.Subscribers = len(lq.subs)
	lq.mu.Unlock()
	lq.qmu.Lock()
	li.Pending = len(lq.queue)
	lq.qmu.Unlock()
	if bound != nil {
		li.Selection = selectionText(bound)
	}
	if eff != nil {
		li.Effective = selectionText(eff)
	}
	return li
}

// selectionText prints a selection, with " AFTER <cursor>" when it starts
// after one.
func selectionText(b *query.Bound) string {
	if b.After != nil {
		return b.String() + " AFTER " + b.After.Encode()
	}
	return b.String()
}
