package core

import (
	"bytes"
	"context"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
)

// readableEvents returns the stored events among ids that the caller may
// read. Each event is judged by the state it produced — the entity as of
// that event, rebuilt by replaying its ancestors — not by the entity's
// current state: an entity that changed owner keeps its old events from the
// new reader and its new events from the old one. An event whose history is
// longer than the node's comparison budget cannot be rebuilt and is withheld.
func (p *Peer) readableEvents(ctx context.Context, c *Context, collection string, ids []id.EventID) ([]event.Event, error) {
	n := p.node
	if err := n.agent.CanAccessCollection(ctx, c.cdata, collection); err != nil {
		return nil, err
	}
	coll, err := n.readCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	evs, err := coll.GetEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	histories := map[id.EntityID]map[id.EventID]*event.Event{}
	var out []event.Event
	for i := range evs {
		ev := &evs[i]
		if ev.Collection != collection {
			continue
		}
		h, ok := histories[ev.Entity]
		if !ok {
			all, err := coll.EntityEvents(ctx, ev.Entity)
			if err != nil {
				return nil, err
			}
			h = make(map[id.EventID]*event.Event, len(all))
			for j := range all {
				h[all[j].ID()] = &all[j]
			}
			histories[ev.Entity] = h
		}
		st, ok := n.stateAt(h, ev.ID())
		if !ok {
			continue
		}
		if n.agent.CheckEventRead(ctx, c.cdata, ev, st) == nil {
			out = append(out, *ev)
		}
	}
	return out, nil
}

// stateAt rebuilds the state an event produced: its ancestors (and itself)
// applied in causal order, ties by event id, so the result is the same on
// every node.
func (n *Node) stateAt(history map[id.EventID]*event.Event, target id.EventID) (*entity.State, bool) {
	if _, ok := history[target]; !ok {
		return nil, false
	}
	// The ancestors of target.
	anc := map[id.EventID]bool{}
	stack := []id.EventID{target}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if anc[e] {
			continue
		}
		ev, ok := history[e]
		if !ok {
			return nil, false // history incomplete here
		}
		anc[e] = true
		if len(anc) > n.cfg.budget {
			return nil, false
		}
		stack = append(stack, ev.Parent...)
	}
	// Kahn's algorithm, always taking the smallest ready id.
	waiting := map[id.EventID]int{}
	children := map[id.EventID][]id.EventID{}
	var ready []id.EventID
	for e := range anc {
		ps := history[e].Parent
		waiting[e] = len(ps)
		for _, p := range ps {
			children[p] = append(children[p], e)
		}
		if len(ps) == 0 {
			ready = append(ready, e)
		}
	}
	var st *entity.State
	for len(ready) > 0 {
		slices.SortFunc(ready, func(a, b id.EventID) int { return bytes.Compare(a[:], b[:]) })
		e := ready[0]
		ready = ready[1:]
		next, err := applyEvent(st, history[e])
		if err != nil {
			return nil, false
		}
		st = &next
		for _, ch := range children[e] {
			if waiting[ch]--; waiting[ch] == 0 {
				ready = append(ready, ch)
			}
		}
	}
	return st, st != nil
}
