package core

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
)

// aggregateVersion is the protocol version that added live aggregates.
const aggregateVersion = 3

// aggregate serves an Aggregate request: a live aggregate run with the
// caller's identity, its groups sent as one AggUpdate with Reset (before the
// response) and then one AggUpdate per commit that changes groups. Credentials
// that expire or change end it (SubEnded, unauthenticated): the aggregate was
// narrowed for the old identity, and the client subscribes again.
func (p *Peer) aggregate(ctx context.Context, reqID uint64, a *transport.AggregateReq) *transport.Response {
	n := p.node
	if p.remote.Version < aggregateVersion {
		return fail(reqID, fmt.Errorf("%w: aggregate request on protocol version %d (needs %d)", transport.ErrProtocol, p.remote.Version, aggregateVersion))
	}
	if err := ValidateName(a.Collection); err != nil {
		return fail(reqID, fmt.Errorf("aggregate: collection %w", err))
	}
	b, err := query.ParseBound(a.Query)
	if err != nil {
		return fail(reqID, err)
	}
	spec := AggregateSpec{GroupBy: a.GroupBy}
	if len(a.Aggs) > storage.MaxAggTerms {
		return fail(reqID, fmt.Errorf("%w: %d aggregate terms (at most %d)", storage.ErrBadAggregate, len(a.Aggs), storage.MaxAggTerms))
	}
	for _, t := range a.Aggs {
		ag, err := storage.ParseAgg(t)
		if err != nil {
			return fail(reqID, err)
		}
		spec.Aggs = append(spec.Aggs, ag)
	}
	if err := checkAggregate(a.Collection, spec, b); err != nil {
		return fail(reqID, err)
	}
	max := n.cfg.limits.MaxSubscriptions
	p.subMu.Lock()
	existing := p.aggs[a.Sub]
	count := len(p.subs) + len(p.aggs)
	p.subMu.Unlock()
	if existing == nil && count >= max {
		return fail(reqID, limits.Exceeded("max-subscriptions", max, count+1, "subscriptions on this connection"))
	}
	sub := a.Sub
	gen := p.generation()
	c := p.context()
	sink := func(total int, gs []Group) { // under the log's lock and the aggregate's
		switch {
		case p.paused.Load() || p.refreshing.Load() || p.expired() || p.generation() != gen:
			n.spawn(func() {
				p.endAggregate(sub, fmt.Errorf("%w: credentials expired or changed; subscribe again", policy.ErrUnauthenticated))
			})
		case total > transport.MaxWireGroups:
			n.spawn(func() {
				p.endAggregate(sub, limits.Exceeded("aggregate groups", transport.MaxWireGroups, total, "groups of one live aggregate"))
			})
		default:
			_ = p.enqueue(&transport.Message{AggUpdate: &transport.AggUpdate{Sub: sub, Groups: wireGroups(gs, len(spec.GroupBy) > 0)}})
		}
	}
	la, err := c.aggregateWithSink(ctx, a.Collection, spec, b, sink)
	if err != nil {
		return fail(reqID, err)
	}
	p.subMu.Lock()
	if p.subs == nil { // connection already gone
		p.subMu.Unlock()
		la.Close()
		return nil
	}
	if p.aggs == nil {
		p.aggs = map[uint64]*LiveAggregate{}
	}
	p.aggs[sub] = la
	p.subMu.Unlock()
	if existing != nil {
		existing.Close()
	}
	if p.generation() != gen {
		p.endAggregate(sub, fmt.Errorf("%w: credentials changed while the aggregate was built; subscribe again", policy.ErrUnauthenticated))
		return fail(reqID, fmt.Errorf("%w: credentials changed while the aggregate was built", policy.ErrUnauthenticated))
	}
	// The reset is queued under the aggregate's lock, so no commit's update
	// can come before it without being in it.
	la.mu.Lock()
	groups := la.sortedResults()
	if len(groups) > transport.MaxWireGroups {
		la.mu.Unlock()
		err := limits.Exceeded("aggregate groups", transport.MaxWireGroups, len(groups), "groups of one live aggregate")
		p.endAggregate(sub, err)
		return fail(reqID, err)
	}
	_ = p.enqueue(&transport.Message{AggUpdate: &transport.AggUpdate{Sub: sub, Reset: true, Groups: wireGroups(groups, len(spec.GroupBy) > 0)}})
	la.mu.Unlock()
	return &transport.Response{ID: reqID}
}

func wireGroups(gs []Group, grouped bool) []transport.WireGroup {
	out := make([]transport.WireGroup, len(gs))
	for i, g := range gs {
		out[i] = transport.WireGroup{Key: g.Key, Count: g.Count, Values: g.Values, Gone: grouped && g.Count == 0}
	}
	return out
}

// endAggregate ends one aggregate subscription from the server's side.
func (p *Peer) endAggregate(sub uint64, err error) {
	p.subMu.Lock()
	la := p.aggs[sub]
	delete(p.aggs, sub)
	p.subMu.Unlock()
	if la == nil {
		return
	}
	la.Close()
	_ = p.enqueue(&transport.Message{SubEnded: &transport.SubEnded{Sub: sub, Code: codeOf(err), Message: err.Error(), Kinds: kindsOf(err)}})
}

// closeAggregate ends an aggregate the client unsubscribed.
func (p *Peer) closeAggregate(sub uint64) {
	p.subMu.Lock()
	la := p.aggs[sub]
	delete(p.aggs, sub)
	p.subMu.Unlock()
	if la != nil {
		la.Close()
	}
}

// closeAggregates ends every aggregate of a connection that ended.
func (p *Peer) closeAggregates() {
	p.subMu.Lock()
	aggs := p.aggs
	p.aggs = nil
	p.subMu.Unlock()
	for _, la := range aggs {
		la.Close()
	}
}
