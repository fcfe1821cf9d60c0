package core

import (
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/signal"
)

// LIMITed live queries of one caller (Context) with one effective selection
// and the same result are kept as one group: a hidden live query — the only
// one the reactor indexes — settles each commit once, and the members read
// its result. Members nobody listens to (no Subscribe, no Signal taken, no
// sink) cost nothing per commit: their Items read the group's result. Members
// with listeners get the hidden query's ChangeSet, each a copy of its own, in
// the same commit order a standalone query would have published it.
//
// Locks: reactor.mu → hidden.mu → member.mu. A member's grp and listening
// change only with both the hidden query's and the member's locks held.
type lqGroup struct {
	key    groupKey
	hidden *LiveQuery
	// guarded by hidden.mu:
	members   map[*LiveQuery]struct{}
	listeners map[*LiveQuery]struct{}
}

type groupKey struct {
	c          *Context
	collection string
	share      string
}

func closedChan() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// place registers a live query whose result was just read at the log's
// current position (the change log's lock held): with the group of its
// caller and selection when it holds that group's result, as a new group's
// first member when there is none, otherwise on its own.
func (r *reactor) place(lq *LiveQuery) {
	lq.mu.Lock()
	k := groupKey{lq.ctx, lq.collection, lq.share}
	groupable := lq.share != "" && lq.sink == nil && !lq.closed && lq.owner == nil
	lq.mu.Unlock()
	if !groupable {
		r.add(lq)
		return
	}
	r.mu.Lock()
	if g := r.groups[k]; g != nil {
		h := g.hidden
		h.mu.Lock()
		lq.mu.Lock()
		joined := !h.closed && !lq.closed && sameResult(h.items, lq.items)
		if joined {
			g.join(lq)
		}
		lq.mu.Unlock()
		h.mu.Unlock()
		r.mu.Unlock()
		if !joined {
			r.add(lq)
		}
		return
	}
	lq.mu.Lock()
	if lq.closed {
		lq.mu.Unlock()
		r.mu.Unlock()
		return
	}
	h := &LiveQuery{ctx: lq.ctx, collection: lq.collection, qid: lq.qid, bound: lq.bound, eff: lq.eff, prog: lq.prog, share: lq.share,
		items: lq.items, byID: lq.byID, subs: map[int]func(ChangeSet){}, done: closedChan(), itemsSig: signal.New[[]*View](nil)}
	h.qcond = sync.NewCond(&h.qmu)
	g := &lqGroup{key: k, hidden: h, members: map[*LiveQuery]struct{}{}, listeners: map[*LiveQuery]struct{}{}}
	h.owner = g
	h.snapWindow()
	g.join(lq)
	lq.mu.Unlock()
	r.groups[k] = g
	r.mu.Unlock()
	r.add(h)
}

// join makes lq a member (hidden.mu and lq.mu held; lq holds the group's result).
func (g *lqGroup) join(lq *LiveQuery) {
	h := g.hidden
	lq.items, lq.byID = h.items, h.byID
	lq.window.Store(nil) // not indexed while grouped
	lq.grp = g
	g.members[lq] = struct{}{}
	lq.listening = lq.heard
	if lq.listening {
		g.listeners[lq] = struct{}{}
	}
}

// listen makes a member follow each commit itself, because something now
// listens to it (Subscribe, Signal); a no-op for other live queries. The
// first time, it also gives the items signal the current result: until a
// query is heard no commit sets it (publish). A member re-pointed or moved
// between groups meanwhile (UpdateSelection, reauthorize) is looked at
// again until the signal holds its result.
func (lq *LiveQuery) listen() {
	for {
		lq.mu.Lock()
		lq.heard = true
		g, listening := lq.grp, lq.listening
		if g == nil || listening {
			// Its own result (a listening member's is its group's,
			// kept in lq.items by join and fanOut).
			lq.setSignalOnce()
			lq.mu.Unlock()
			return
		}
		lq.mu.Unlock()
		if lq.listenIn(g) {
			return
		}
	}
}

// listenIn makes silent member lq of g follow each commit itself and
// reports whether it did: false when lq is no longer g's silent member.
func (lq *LiveQuery) listenIn(g *lqGroup) bool {
	h := g.hidden
	h.mu.Lock()
	defer h.mu.Unlock()
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if lq.grp != g || lq.listening {
		return false
	}
	lq.items, lq.byID = h.items, h.byID
	lq.setSignalOnce()
	lq.listening = true
	g.listeners[lq] = struct{}{}
	return true
}

// setSignalOnce gives the items signal the current result the first time
// the query is heard (lq.mu held). Nothing can have subscribed to the
// signal before (Signal returns it only once listen has), so this Set runs
// nobody's callback under lq.mu.
func (lq *LiveQuery) setSignalOnce() {
	if lq.signalSet {
		return
	}
	lq.signalSet = true
	lq.itemsSig.Set(slices.Clone(lq.items))
}

// leaveGroup takes a member out of its group with the group's current
// result as its own (before it is re-pointed or closed); a group left with
// no members ends.
func (lq *LiveQuery) leaveGroup() {
	lq.mu.Lock()
	g := lq.grp
	lq.mu.Unlock()
	if g == nil {
		return
	}
	h := g.hidden
	h.mu.Lock()
	lq.mu.Lock()
	if lq.grp == g {
		lq.items, lq.byID = h.items, h.byID
		lq.grp, lq.listening = nil, false
		delete(g.members, lq)
		delete(g.listeners, lq)
	}
	empty := len(g.members) == 0
	retire := empty && !h.closed
	if empty {
		h.closed = true
	}
	lq.mu.Unlock()
	h.mu.Unlock()
	if empty {
		r := h.ctx.node.reactor
		if retire {
			r.remove(h)
		}
		r.mu.Lock()
		if r.groups[g.key] == g {
			delete(r.groups, g.key)
		}
		r.mu.Unlock()
	}
}

// fanOut hands the hidden query's ChangeSet to the members that listen
// (hidden.mu held).
func (g *lqGroup) fanOut(cs ChangeSet) {
	h := g.hidden
	for m := range g.listeners {
		m.mu.Lock()
		if !m.closed && m.grp == g {
			m.items, m.byID = h.items, h.byID
			// Its own slices: subscribers of different live queries run
			// on different goroutines.
			m.publish(ChangeSet{Changes: slices.Clone(cs.Changes)})
		}
		m.mu.Unlock()
	}
}

// current is the live query's result set and index: its own, or a silent
// member's group's (never with lq.mu held by the caller).
func (lq *LiveQuery) current(read func(items []*View, byID map[id.EntityID]*View)) {
	lq.mu.Lock()
	if g := lq.grp; g != nil && !lq.listening {
		lq.mu.Unlock()
		h := g.hidden
		h.mu.Lock()
		defer h.mu.Unlock()
		read(h.items, h.byID)
		return
	}
	defer lq.mu.Unlock()
	read(lq.items, lq.byID)
}

// members lists the live queries of every group (r.mu held).
func (r *reactor) members() []*LiveQuery {
	var qs []*LiveQuery
	for _, g := range r.groups {
		g.hidden.mu.Lock()
		for m := range g.members {
			qs = append(qs, m)
		}
		g.hidden.mu.Unlock()
	}
	return qs
}
