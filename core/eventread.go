package core

import (
	"bytes"
	"container/heap"
	"context"

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
	if err := n.canAccess(ctx, c.cdata, collection); err != nil {
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
	memo := map[id.EventID]*entity.State{}
	work := n.cfg.budget // events replayed for this whole request
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
			if len(all) > n.cfg.budget {
				// Too long a history to rebuild here: its events are withheld.
				histories[ev.Entity] = nil
				continue
			}
			h = make(map[id.EventID]*event.Event, len(all))
			for j := range all {
				h[all[j].ID()] = &all[j]
			}
			histories[ev.Entity] = h
		}
		if h == nil {
			continue
		}
		st, ok := n.stateAt(h, memo, &work, ev.ID())
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
// every node. States are memoized: an event with one parent is its parent's
// state plus itself, so a linear history costs one application per event;
// an event with several parents is replayed from its whole ancestry. work
// is the request's remaining budget of applications; when it runs out the
// event cannot be judged (false).
func (n *Node) stateAt(history map[id.EventID]*event.Event, memo map[id.EventID]*entity.State, work *int, target id.EventID) (*entity.State, bool) {
	if st, ok := memo[target]; ok {
		return st, st != nil
	}
	ev, ok := history[target]
	if !ok {
		return nil, false
	}
	// Walk down single-parent links to a memoized state, a genesis or a merge.
	chain := []*event.Event{ev}
	var base *entity.State
	for {
		last := chain[len(chain)-1]
		if len(last.Parent) != 1 {
			break
		}
		p := last.Parent[0]
		if st, ok := memo[p]; ok {
			if st == nil {
				memo[target] = nil
				return nil, false
			}
			base = st
			break
		}
		pe, ok := history[p]
		if !ok {
			memo[target] = nil
			return nil, false
		}
		chain = append(chain, pe)
		if len(chain) > *work {
			return nil, false
		}
	}
	if base == nil {
		root := chain[len(chain)-1]
		chain = chain[:len(chain)-1]
		if len(root.Parent) == 0 {
			*work--
			st, err := applyEvent(nil, root)
			if err != nil {
				memo[root.ID()] = nil
				return nil, false
			}
			memo[root.ID()] = &st
			base = &st
		} else {
			st, ok := n.replay(history, work, root.ID())
			memo[root.ID()] = st
			if !ok {
				return nil, false
			}
			base = st
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if *work--; *work < 0 {
			return nil, false
		}
		next, err := applyEvent(base, chain[i])
		if err != nil {
			memo[chain[i].ID()] = nil
			return nil, false
		}
		base = &next
		memo[chain[i].ID()] = base
	}
	return base, true
}

// replay applies every ancestor of target (and target) from nothing, in a
// deterministic causal order (Kahn's algorithm, smallest ready id first).
func (n *Node) replay(history map[id.EventID]*event.Event, work *int, target id.EventID) (*entity.State, bool) {
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
		if len(anc) > *work {
			return nil, false
		}
		stack = append(stack, ev.Parent...)
	}
	waiting := map[id.EventID]int{}
	children := map[id.EventID][]id.EventID{}
	ready := &idHeap{}
	for e := range anc {
		ps := history[e].Parent
		waiting[e] = len(ps)
		for _, p := range ps {
			children[p] = append(children[p], e)
		}
		if len(ps) == 0 {
			heap.Push(ready, e)
		}
	}
	var st *entity.State
	for ready.Len() > 0 {
		e := heap.Pop(ready).(id.EventID)
		*work--
		next, err := applyEvent(st, history[e])
		if err != nil {
			return nil, false
		}
		st = &next
		for _, ch := range children[e] {
			if waiting[ch]--; waiting[ch] == 0 {
				heap.Push(ready, ch)
			}
		}
	}
	return st, st != nil
}

// idHeap is a min-heap of event ids by bytes.
type idHeap []id.EventID

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return bytes.Compare(h[i][:], h[j][:]) < 0 }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(id.EventID)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
