package core

import (
	"context"
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// refIndex is the reactor's reverse index for live queries whose selection
// follows references (`artist.name = ?` on albums): a change of a
// referenced entity (an artist) can move root entities (albums) in or out
// of them although no root entity changed.
//
// Each traversal term of such a query is registered once per hop, under
// the collection the hop leads to. A term read in that collection by
// equality or IN on one property (the common `artist.name = ?`) is indexed
// by the value's equality key, like the reactor's own index; other terms are
// offered every change of the collection. So a commit costs in proportion
// to the traversal terms its values can touch. For each term a change
// reaches, the term is evaluated before and after the change (through the
// caller's reads of whatever further references it follows); only when its
// truth or the entity's readability differs are the entities that refer to
// the changed one looked up (one storage fetch per hop back to the root,
// `artist IN (…)`), and those re-evaluated and published as Add/Remove.
type refIndex struct {
	mu     sync.Mutex
	byColl map[string]*refWatch // referenced collection -> terms through it
	of     map[*LiveQuery][]*refDep
	// offered counts the terms changes were offered to (for tests of
	// what a commit costs).
	offered uint64
}

type refWatch struct {
	eq   map[string]map[string]map[*refDep]struct{} // property -> equality key -> terms
	scan map[*refDep]struct{}
}

// refDep is one traversal term of a live query at one hop: the changed
// entity belongs to tr.Hops[level].Target.
type refDep struct {
	lq    *LiveQuery
	root  string
	tr    *query.Traversal
	level int
	prop  string   // eq index placement ("" for scan)
	keys  []string // eq index keys
	yes   query.Program
	no    query.Program
}

// add registers lq if its selection follows references (r.mu held).
func (ri *refIndex) add(lq *LiveQuery) {
	lq.mu.Lock()
	prog, coll := lq.prog, lq.collection
	lq.mu.Unlock()
	lp, ok := prog.(*liveProgram)
	if !ok || lp.tr == nil {
		return
	}
	var deps []*refDep
	for _, tr := range lp.tr.Terms {
		yes, err1 := query.Compile(&query.Bound{Where: tr.Leaf, Limit: -1}, nil)
		no, err2 := query.Compile(&query.Bound{Where: &query.Not{X: tr.Leaf}, Limit: -1}, nil)
		if err1 != nil || err2 != nil {
			continue // cannot happen: the live query compiled the same terms
		}
		for k := range tr.Hops {
			d := &refDep{lq: lq, root: coll, tr: tr, level: k, yes: yes, no: no}
			if k == len(tr.Hops)-1 && len(tr.Rest) == 1 {
				d.prop, d.keys = eqPlacement(tr.Term)
			}
			deps = append(deps, d)
		}
	}
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if ri.byColl == nil {
		ri.byColl, ri.of = map[string]*refWatch{}, map[*LiveQuery][]*refDep{}
	}
	ri.removeLocked(lq)
	for _, d := range deps {
		target := d.tr.Hops[d.level].Target
		w := ri.byColl[target]
		if w == nil {
			w = &refWatch{eq: map[string]map[string]map[*refDep]struct{}{}, scan: map[*refDep]struct{}{}}
			ri.byColl[target] = w
		}
		if d.prop == "" {
			w.scan[d] = struct{}{}
			continue
		}
		if w.eq[d.prop] == nil {
			w.eq[d.prop] = map[string]map[*refDep]struct{}{}
		}
		for _, k := range d.keys {
			if w.eq[d.prop][k] == nil {
				w.eq[d.prop][k] = map[*refDep]struct{}{}
			}
			w.eq[d.prop][k][d] = struct{}{}
		}
	}
	ri.of[lq] = deps
}

// eqPlacement is the equality index placement of a term read on one
// property: `p = v` or `p IN (…)` (prop "" when it has none: the term can be
// true, or flip under NOT, for values of any key).
func eqPlacement(term query.Expr) (string, []string) {
	switch t := term.(type) {
	case *query.Comparison:
		if k, ok := eqKey(t.Value.Value); ok && t.Op == query.Eq {
			return t.Path[0], []string{k}
		}
	case *query.In:
		if t.Not {
			return "", nil
		}
		var ks []string
		for _, o := range t.Values {
			if k, ok := eqKey(o.Value); ok {
				ks = append(ks, k)
			}
		}
		return t.Path[0], ks
	}
	return "", nil
}

// remove unregisters lq (r.mu held).
func (ri *refIndex) remove(lq *LiveQuery) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.removeLocked(lq)
}

func (ri *refIndex) removeLocked(lq *LiveQuery) {
	for _, d := range ri.of[lq] {
		target := d.tr.Hops[d.level].Target
		w := ri.byColl[target]
		if w == nil {
			continue
		}
		delete(w.scan, d)
		for _, k := range d.keys {
			delete(w.eq[d.prop][k], d)
			if len(w.eq[d.prop][k]) == 0 {
				delete(w.eq[d.prop], k)
			}
		}
		if len(w.eq[d.prop]) == 0 {
			delete(w.eq, d.prop)
		}
		if len(w.scan) == 0 && len(w.eq) == 0 {
			delete(ri.byColl, target)
		}
	}
	delete(ri.of, lq)
}

// notify moves root entities in or out of the live queries whose traversal
// terms a commit's changes of referenced entities flip (called by the
// reactor after the commit's own changes were applied, the change log's
// lock held, so in log order).
func (ri *refIndex) notify(ctx context.Context, changes []change) {
	type hit struct {
		d  *refDep
		ch *change
	}
	var hits []hit
	ri.mu.Lock()
	if len(ri.of) == 0 {
		ri.mu.Unlock()
		return
	}
	for i := range changes {
		ch := &changes[i]
		w := ri.byColl[ch.collection]
		if w == nil {
			continue
		}
		seen := map[*refDep]bool{}
		offer := func(d *refDep) {
			if !seen[d] {
				seen[d] = true
				ri.offered++
				hits = append(hits, hit{d, ch})
			}
		}
		states := []*entity.State{&ch.after}
		if ch.before != nil {
			states = append(states, ch.before)
		}
		for prop, byKey := range w.eq {
			if ch.beforeUnknown {
				for _, ds := range byKey {
					for d := range ds {
						offer(d)
					}
				}
				continue
			}
			for _, st := range states {
				if k, ok := eqKey(st.Values.Get(prop)); ok {
					for d := range byKey[k] {
						offer(d)
					}
				}
			}
		}
		for d := range w.scan {
			offer(d)
		}
	}
	ri.mu.Unlock()
	if len(hits) == 0 {
		return
	}
	ctx = cacheOnly(ctx) // reads while notified: this node's cache only
	// Off the index's lock: evaluate, look up and publish.
	readers := map[*Context]*refReader{}
	roots := map[*LiveQuery]map[id.EntityID]entity.State{}
	var order []*LiveQuery
	// The changed entities that flipped a term of a subscription of a peer
	// (a live query with a sink), for its subscriber's copies.
	flipped := map[*LiveQuery][]*change{}
	var flippedOrder []*LiveQuery
	for _, h := range hits {
		lq := h.d.lq
		lq.mu.Lock()
		c, closed, sink := lq.ctx, lq.closed, lq.sink != nil
		lq.mu.Unlock()
		if closed {
			continue
		}
		rd := readers[c]
		if rd == nil {
			rd = c.newRefReader(ctx, true)
			readers[c] = rd
		}
		if !h.d.flips(h.ch, rd) {
			continue
		}
		if sink && !slices.Contains(flipped[lq], h.ch) {
			if flipped[lq] == nil {
				flippedOrder = append(flippedOrder, lq)
			}
			flipped[lq] = append(flipped[lq], h.ch)
		}
		states, err := h.d.referrers(ctx, c, h.ch.after.ID)
		if err != nil {
			c.node.log.ErrorContext(ctx, "live query: finding the entities that refer to a changed one failed", "query", lq.qid.String(), "entity", h.ch.after.ID.String(), "err", err)
			continue
		}
		m := roots[lq]
		if m == nil {
			m = map[id.EntityID]entity.State{}
			roots[lq] = m
			order = append(order, lq)
		}
		for _, st := range states {
			m[st.ID] = st
		}
	}
	for _, lq := range order {
		lq.applyRelated(ctx, roots[lq])
	}
	for _, lq := range flippedOrder {
		lq.sendPaths(flipped[lq])
	}
}

// sendPaths hands a subscription's sink the changed entities that flipped
// one of its traversal terms, whether or not a row moved: a subscriber
// evaluates the traversal on its own copies, and a copy that missed a flip
// would move one of its cached rows where the durable node's result does
// not (the server sends each one the subscriber may read, or gone for one
// it could read before).
func (lq *LiveQuery) sendPaths(chs []*change) {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if lq.closed || lq.sink == nil {
		return
	}
	lq.sink(ChangeSet{paths: chs})
}

// flips reports whether a change of a referenced entity can change the
// term's truth for the entities that refer to it: the term (or its
// negation) holds on one side of the change and not on the other, the
// entity became readable or unreadable, or the state it replaced is not
// known here.
func (d *refDep) flips(ch *change, rd *refReader) bool {
	if ch.beforeUnknown {
		return true
	}
	coll := ch.collection
	yesA, noA := d.truth(coll, &ch.after, rd)
	yesB, noB := d.truth(coll, ch.before, rd)
	return yesA != yesB || noA != noB
}

// truth evaluates the term and its negation for st as the entity its
// referrers reach at the dep's hop (nil or unreadable: the path is NULL).
func (d *refDep) truth(coll string, st *entity.State, rd *refReader) (bool, bool) {
	v := value.Null
	if rd.readable(coll, st) {
		v = d.tr.ResolveFrom(d.level+1, st.Values, rd.lookup)
	}
	m := value.MakeFields([]value.Field{{Name: d.tr.Key, Value: v}})
	yes, _ := d.yes.Match(m)
	no, _ := d.no.Match(m)
	return yes, no
}

// referrers returns the root entities whose path reaches eid at the dep's
// hop: the entities referring to it, then those referring to them, back to
// the root collection (raw storage reads; the live query decides what
// matches and what its caller may read).
func (d *refDep) referrers(ctx context.Context, c *Context, eid id.EntityID) ([]entity.State, error) {
	ids := []query.Operand{query.Lit(value.Ref(eid))}
	for j := d.level; j >= 0; j-- {
		coll := d.root
		if j > 0 {
			coll = d.tr.Hops[j-1].Target
		}
		rc, err := c.node.readCollection(ctx, coll)
		if err != nil {
			return nil, err
		}
		states, err := rc.FetchStates(ctx, &query.Bound{Where: &query.In{Path: query.Path{d.tr.Hops[j].Property}, Values: ids}, Limit: -1})
		if err != nil {
			return nil, err
		}
		if j == 0 || len(states) == 0 {
			return states, nil
		}
		ids = make([]query.Operand, len(states))
		for i := range states {
			ids[i] = query.Lit(value.Ref(states[i].ID))
		}
	}
	return nil, nil
}

// applyRelated re-evaluates root entities whose references changed under
// them and publishes who entered or left (one ChangeSet, Add and Remove
// only: the entities themselves did not change). A member is evaluated as
// the live query holds it; a LIMITed query is read again.
func (lq *LiveQuery) applyRelated(ctx context.Context, roots map[id.EntityID]entity.State) {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if lq.closed {
		return
	}
	if lq.eff.HasLimit() {
		states, err := lq.ctx.fetchEffective(ctx, lq.collection, lq.eff)
		if err != nil {
			lq.ctx.node.log.ErrorContext(ctx, "live query refill failed", "query", lq.qid.String(), "err", err)
			return
		}
		lq.diffAndPublish(ctx, states, nil)
		return
	}
	added := map[id.EntityID]entity.State{}
	removed := map[id.EntityID]bool{}
	for eid, st := range roots {
		v, was := lq.byID[eid]
		if was {
			st = v.state
		}
		now := lq.ctx.matches(ctx, lq.prog, &st)
		switch {
		case now && !was:
			added[eid] = st
		case was && !now:
			removed[eid] = true
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return
	}
	next := make([]entity.State, 0, len(lq.items)+len(added))
	for _, v := range lq.items {
		if !removed[v.state.ID] {
			next = append(next, v.state)
		}
	}
	for _, st := range added {
		next = append(next, st)
	}
	order := lq.eff.OrderBy
	slices.SortStableFunc(next, func(a, b entity.State) int {
		return query.CompareRows(order, a.Values, a.ID, b.Values, b.ID)
	})
	lq.diffAndPublish(ctx, next, nil)
}

// refsUnchangedSince reports whether no entity of a collection the
// selection's references lead to was published after s0, so a result read
// at s0 needs no re-read for them (the change log's lock held).
func (n *Node) refsUnchangedSince(s0 uint64, prog query.Program) bool {
	lp, ok := prog.(*liveProgram)
	if !ok || lp.tr == nil {
		return true
	}
	for _, tr := range lp.tr.Terms {
		for _, h := range tr.Hops {
			changed, ok := n.clog.since(s0, h.Target)
			if !ok || len(changed) > 0 {
				return false
			}
		}
	}
	return true
}
