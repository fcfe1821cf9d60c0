package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// ErrNoRemoteAggregate: the durable peer speaks a protocol version without
// live aggregates (before 3).
var ErrNoRemoteAggregate = errors.New("ankurah: the durable peer does not serve live aggregates")

// aggregateRemote makes an ephemeral node's live aggregate: the durable
// peer keeps it (an ephemeral node does not hold every row) and sends its
// groups; the node re-subscribes it on every reconnection. While offline it
// keeps its last groups.
func (c *Context) aggregateRemote(ctx context.Context, collection string, spec AggregateSpec, b *query.Bound) (*LiveAggregate, error) {
	n := c.node
	la, err := c.newAggregate(collection, spec)
	if err != nil {
		return nil, err
	}
	la.remote, la.eff = true, b
	if !la.grouped {
		k := storage.GroupKey(nil)
		la.results[k] = la.groupResult(k)
	}
	n.upMu.Lock()
	n.up.nextSub++
	sub := n.up.nextSub
	la.remoteSub = sub
	if n.up.aggs == nil {
		n.up.aggs = map[uint64]*LiveAggregate{}
	}
	n.up.aggs[sub] = la
	n.upMu.Unlock()
	la.onClose = func() {
		n.upMu.Lock()
		delete(n.up.aggs, sub)
		n.upMu.Unlock()
		if p := n.upstreamPeer(); p != nil {
			u := sub
			_, _ = p.request(context.Background(), &transport.Request{Unsubscribe: &u})
		}
	}
	if _, err := la.started(); err != nil {
		return nil, err
	}
	if p := n.upstreamPeer(); p != nil {
		// The peer's groups arrive (as a reset) before its answer.
		if err := n.subscribeAggregate(ctx, p, la); err != nil && !isDisconnect(err) {
			la.Close()
			return nil, err
		}
	}
	return la, nil
}

// subscribeAggregate asks the durable peer for a live aggregate.
func (n *Node) subscribeAggregate(ctx context.Context, p *Peer, la *LiveAggregate) error {
	if p.remote.Version < aggregateVersion {
		return fmt.Errorf("%w (peer speaks protocol version %d)", ErrNoRemoteAggregate, p.remote.Version)
	}
	req := &transport.AggregateReq{Sub: la.remoteSub, Collection: la.collection, Query: la.eff.String(), GroupBy: la.spec.GroupBy}
	for _, a := range la.spec.Aggs {
		req.Aggs = append(req.Aggs, a.String())
	}
	_, err := p.request(ctx, &transport.Request{Aggregate: req})
	if err == nil {
		la.mu.Lock()
		la.err = nil
		la.mu.Unlock()
	}
	return err
}

// resubscribeAggregates subscribes the node's live aggregates again on a
// new connection.
func (n *Node) resubscribeAggregates(ctx context.Context, p *Peer) {
	n.upMu.Lock()
	aggs := make([]*LiveAggregate, 0, len(n.up.aggs))
	for _, la := range n.up.aggs {
		aggs = append(aggs, la)
	}
	n.upMu.Unlock()
	for _, la := range aggs {
		if err := n.subscribeAggregate(ctx, p, la); err != nil {
			n.log.Error("re-subscribing live aggregate failed", "aggregate", la.qid.String(), "err", err)
			la.mu.Lock()
			la.err = err
			la.mu.Unlock()
		}
	}
}

// remoteAggUpdate applies groups the durable peer sent, after checking
// that they fit the aggregate's spec; a malformed update is an error (the
// connection then ends with a protocol fault).
func (n *Node) remoteAggUpdate(_ *Peer, u *transport.AggUpdate) error {
	n.upMu.Lock()
	la := n.up.aggs[u.Sub]
	n.upMu.Unlock()
	if la == nil {
		return nil // closed here meanwhile
	}
	if len(u.Groups) > transport.MaxWireGroups {
		return fmt.Errorf("%w: aggregate update of %d groups (at most %d)", transport.ErrProtocol, len(u.Groups), transport.MaxWireGroups)
	}
	for i, g := range u.Groups {
		if len(g.Key) != len(la.spec.GroupBy) || (len(g.Values) != len(la.spec.Aggs) && !g.Gone) || g.Count < 0 || (g.Gone && !la.grouped) {
			return fmt.Errorf("%w: aggregate update group %d does not fit the aggregate (%d key values for %d group-by properties, %d values for %d terms, count %d, gone %v)",
				transport.ErrProtocol, i, len(g.Key), len(la.spec.GroupBy), len(g.Values), len(la.spec.Aggs), g.Count, g.Gone)
		}
	}
	la.mu.Lock()
	defer la.mu.Unlock()
	if la.closed {
		return nil
	}
	if u.Reset {
		for k := range la.results {
			la.dirty[k] = struct{}{}
		}
		clear(la.results)
		if !la.grouped {
			k := storage.GroupKey(nil)
			la.results[k] = Group{Key: []value.Value{}, Values: nullValues(len(la.spec.Aggs))}
		}
	}
	for _, g := range u.Groups {
		key := make([]value.Value, len(g.Key))
		for i, v := range g.Key {
			key[i] = storage.NormalizeNumber(v)
		}
		k := storage.GroupKey(key)
		if g.Gone {
			delete(la.results, k)
		} else {
			la.results[k] = Group{Key: key, Count: g.Count, Values: g.Values}
		}
		la.dirty[k] = struct{}{}
	}
	if len(la.results) > transport.MaxWireGroups {
		return fmt.Errorf("%w: aggregate of more than %d groups", transport.ErrProtocol, transport.MaxWireGroups)
	}
	la.poke()
	return nil
}

// remoteAggEnded records that the durable peer ended an aggregate; false
// when sub is no aggregate of this node.
func (n *Node) remoteAggEnded(e *transport.SubEnded) bool {
	n.upMu.Lock()
	la := n.up.aggs[e.Sub]
	n.upMu.Unlock()
	if la == nil {
		return false
	}
	err := errOf(e.Code, e.Kinds, e.Message)
	n.log.Error("durable peer ended a live aggregate", "sub", e.Sub, "err", err)
	la.mu.Lock()
	la.err = err
	la.mu.Unlock()
	return true
}
