package core

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// reactor decides which live queries a commit touches. It indexes each live
// query by one term of its top-level conjunction: an equality or IN term goes
// into a hash index per property, a range term into a list per property;
// queries with neither are evaluated on every change of their collection.
// A commit therefore costs in proportion to the queries it can match, not to
// the number of live queries.
type reactor struct {
	mu       sync.Mutex
	colls    map[string]*watch
	where    map[*LiveQuery]placement
	entities map[id.EntityID]map[*EntityWatch]struct{}
	aggs     aggRegistry           // live aggregates (aggregate.go)
	groups   map[groupKey]*lqGroup // LIMITed live queries sharing one result (lqgroup.go)
	bdirty   boundDirty            // windows changed since the last notification (reactor_bounded.go)

	// refs indexes the live queries whose paths follow references
	// (reactor_refs.go).
	refs refIndex
	// inc indexes what live queries include (include.go).
	inc incIndex

	// dirty lists the peers with subscription updates collected during the
	// current notification (guarded by the change log's lock, not mu).
	dirty []*Peer
}

type watch struct {
	eq     map[string]map[string]map[*LiveQuery]struct{} // property -> equality key -> queries
	ranges map[string]*rangeIndex                        // property -> queries with a range on it
	scan   map[*LiveQuery]struct{}                       // queries evaluated on every change
	// bounded holds the full windows of LIMITed range and scan queries,
	// by order (reactor_bounded.go).
	bounded map[string]*boundIndex
}

// rangeIndex holds the range terms on one property, sorted by bound, so a
// changed value finds the queries it can match by binary search: a value v
// is in `p > b` / `p >= b` only if b <= v, and in `p < b` / `p <= b` only if
// b >= v, and only bounds of v's rank are comparable with it. The cost of a
// change follows the matching queries, not the queries that exist.
type rangeIndex struct {
	lowers []rangeEntry // > and >=, by bound
	uppers []rangeEntry // < and <=, by bound
}

type rangeEntry struct {
	rangeTerm
	lq *LiveQuery
}

func (ri *rangeIndex) add(lq *LiveQuery, rt rangeTerm) {
	list := &ri.uppers
	if rt.op == query.Gt || rt.op == query.Ge {
		list = &ri.lowers
	}
	i := sort.Search(len(*list), func(i int) bool { return value.Compare((*list)[i].val, rt.val) > 0 })
	*list = slices.Insert(*list, i, rangeEntry{rt, lq})
}

func (ri *rangeIndex) remove(lq *LiveQuery) {
	del := func(e rangeEntry) bool { return e.lq == lq }
	ri.lowers = slices.DeleteFunc(ri.lowers, del)
	ri.uppers = slices.DeleteFunc(ri.uppers, del)
}

func (ri *rangeIndex) len() int { return len(ri.lowers) + len(ri.uppers) }

// match calls hit for every query whose range term holds for v.
func (ri *rangeIndex) match(v value.Value, hit func(*LiveQuery)) {
	if v.IsNull() {
		return
	}
	r := value.Rank(v)
	// lowers: bounds of v's rank up to v.
	i0 := sort.Search(len(ri.lowers), func(i int) bool { return value.Rank(ri.lowers[i].val) >= r })
	i1 := sort.Search(len(ri.lowers), func(i int) bool { return value.Compare(ri.lowers[i].val, v) > 0 })
	for _, e := range ri.lowers[i0:max(i0, i1)] {
		if inRange(e.rangeTerm, v) {
			hit(e.lq)
		}
	}
	// uppers: bounds of v's rank from v on.
	j0 := sort.Search(len(ri.uppers), func(i int) bool { return value.Compare(ri.uppers[i].val, v) >= 0 })
	j1 := sort.Search(len(ri.uppers), func(i int) bool { return value.Rank(ri.uppers[i].val) > r })
	for _, e := range ri.uppers[j0:max(j0, j1)] {
		if inRange(e.rangeTerm, v) {
			hit(e.lq)
		}
	}
}

type rangeTerm struct {
	op  query.Op
	val value.Value
}

// placement remembers where a query is indexed, to remove it.
type placement struct {
	collection string
	prop       string
	keys       []string
	isRange    bool
	rt         rangeTerm
	scan       bool
	// win is the full window the query is held in a boundIndex by (nil:
	// it is in the range or scan lists), under orderKey.
	win      *window
	orderKey string
}

func newReactor() *reactor {
	return &reactor{colls: map[string]*watch{}, where: map[*LiveQuery]placement{}, entities: map[id.EntityID]map[*EntityWatch]struct{}{}, groups: map[groupKey]*lqGroup{}}
}

func (r *reactor) watch(collection string) *watch {
	w, ok := r.colls[collection]
	if !ok {
		w = &watch{eq: map[string]map[string]map[*LiveQuery]struct{}{}, ranges: map[string]*rangeIndex{}, scan: map[*LiveQuery]struct{}{}}
		r.colls[collection] = w
	}
	return w
}

// indexTerm picks the term a query is indexed by.
func indexTerm(where query.Expr) (prop string, keys []string, rt *rangeTerm) {
	terms := []query.Expr{where}
	if a, ok := where.(*query.And); ok {
		terms = flatten(a)
	}
	var rangeProp string
	var rangeT *rangeTerm
	for _, t := range terms {
		switch x := t.(type) {
		case *query.Comparison:
			if len(x.Path) != 1 {
				continue
			}
			switch x.Op {
			case query.Eq:
				if k, ok := eqKey(x.Value.Value); ok {
					return x.Path[0], []string{k}, nil
				}
				if x.Value.Value.IsNull() {
					return x.Path[0], nil, nil // never matches: index with no keys
				}
			case query.Lt, query.Le, query.Gt, query.Ge:
				if rangeT == nil && !x.Value.Value.IsNull() {
					rangeProp, rangeT = x.Path[0], &rangeTerm{op: x.Op, val: x.Value.Value}
				}
			}
		case *query.In:
			if x.Not || len(x.Path) != 1 {
				continue
			}
			var ks []string
			for _, o := range x.Values {
				if k, ok := eqKey(o.Value); ok {
					ks = append(ks, k)
				}
			}
			return x.Path[0], ks, nil
		case *query.Literal:
			if !x.Value {
				return "", nil, nil // `false`: matches nothing
			}
		}
	}
	if rangeT != nil {
		return rangeProp, nil, rangeT
	}
	return "", nil, nil
}

func flatten(a *query.And) []query.Expr {
	var out []query.Expr
	for _, t := range a.Terms {
		if b, ok := t.(*query.And); ok {
			out = append(out, flatten(b)...)
		} else {
			out = append(out, t)
		}
	}
	return out
}

// eqKey is a hash key under which values AnkQL's = considers equal collide
// (Int(1) and Float(1.0) alike); NULL has none.
func eqKey(v value.Value) (string, bool) {
	var b [9]byte
	switch v.Kind() {
	case value.KindNull:
		return "", false
	case value.KindBool:
		x, _ := v.AsBool()
		if x {
			return "b1", true
		}
		return "b0", true
	case value.KindInt:
		i, _ := v.AsInt()
		b[0] = 'i'
		binary.BigEndian.PutUint64(b[1:], uint64(i))
		return string(b[:]), true
	case value.KindFloat:
		f, _ := v.AsFloat()
		if f == math.Trunc(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0 {
			b[0] = 'i'
			binary.BigEndian.PutUint64(b[1:], uint64(int64(f)))
			return string(b[:]), true
		}
		b[0] = 'f'
		binary.BigEndian.PutUint64(b[1:], math.Float64bits(f))
		return string(b[:]), true
	}
	return string([]byte{'0' + byte(v.Kind())}) + v.Raw(), true
}

func (r *reactor) add(lq *LiveQuery) {
	// r.mu before lq.mu: a Close that marks lq closed and then removes it
	// cannot fall between the check and the insertion.
	r.mu.Lock()
	defer r.mu.Unlock()
	lq.mu.Lock()
	where, closed := lq.bound.Where, lq.closed
	win := lq.window.Load()
	lq.mu.Unlock()
	if closed {
		return
	}
	prop, keys, rt := indexTerm(where)
	w := r.watch(lq.collection)
	p := placement{collection: lq.collection, prop: prop, keys: keys}
	switch {
	case rt != nil:
		p.isRange, p.rt = true, *rt
	case prop != "":
		if w.eq[prop] == nil {
			w.eq[prop] = map[string]map[*LiveQuery]struct{}{}
		}
		for _, k := range keys {
			if w.eq[prop][k] == nil {
				w.eq[prop][k] = map[*LiveQuery]struct{}{}
			}
			w.eq[prop][k][lq] = struct{}{}
		}
	default:
		p.scan = !(keys == nil && prop == "" && isFalse(where))
	}
	if p.boundable() {
		if win != nil {
			r.placeBounded(w, lq, &p, win)
		} else {
			r.indexOpen(w, lq, p)
		}
	}
	r.where[lq] = p
	r.refs.add(lq)
}

// indexOpen puts a range or scan query into its range or scan list (r.mu held).
func (r *reactor) indexOpen(w *watch, lq *LiveQuery, p placement) {
	if !p.isRange {
		w.scan[lq] = struct{}{}
		return
	}
	if w.ranges[p.prop] == nil {
		w.ranges[p.prop] = &rangeIndex{}
	}
	w.ranges[p.prop].add(lq, p.rt)
}

// unindexOpen takes a range or scan query out of its list (r.mu held).
func (r *reactor) unindexOpen(w *watch, lq *LiveQuery, p placement) {
	delete(w.scan, lq)
	if ri := w.ranges[p.prop]; p.isRange && ri != nil {
		ri.remove(lq)
		if ri.len() == 0 {
			delete(w.ranges, p.prop)
		}
	}
}

func isFalse(e query.Expr) bool {
	_, _, rt := indexTerm(e)
	if rt != nil {
		return false
	}
	terms := []query.Expr{e}
	if a, ok := e.(*query.And); ok {
		terms = flatten(a)
	}
	for _, t := range terms {
		if l, ok := t.(*query.Literal); ok && !l.Value {
			return true
		}
	}
	return false
}

func (r *reactor) remove(lq *LiveQuery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bdirty.forget(lq)
	r.refs.remove(lq)
	p, ok := r.where[lq]
	if !ok {
		return
	}
	delete(r.where, lq)
	w := r.colls[p.collection]
	if w == nil {
		return
	}
	if p.win != nil {
		r.unplaceBounded(w, lq, &p)
		return
	}
	if p.boundable() {
		r.unindexOpen(w, lq, p)
		return
	}
	for _, k := range p.keys {
		delete(w.eq[p.prop][k], lq)
		if len(w.eq[p.prop][k]) == 0 {
			delete(w.eq[p.prop], k)
		}
	}
}

func (r *reactor) watchEntity(w *EntityWatch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entities[w.eid] == nil {
		r.entities[w.eid] = map[*EntityWatch]struct{}{}
	}
	r.entities[w.eid][w] = struct{}{}
}

func (r *reactor) unwatchEntity(w *EntityWatch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.entities[w.eid], w)
	if len(r.entities[w.eid]) == 0 {
		delete(r.entities, w.eid)
	}
}

// all lists the node's live queries as their callers see them: those
// indexed on their own and the members of groups (not the groups' hidden
// queries).
func (r *reactor) all() []*LiveQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	qs := make([]*LiveQuery, 0, len(r.where))
	for lq := range r.where {
		if lq.owner == nil {
			qs = append(qs, lq)
		}
	}
	return append(qs, r.members()...)
}

// indexed lists the live queries the reactor hands commits to: those on
// their own and each group's hidden query (whose result its members read).
func (r *reactor) indexed() []*LiveQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	qs := make([]*LiveQuery, 0, len(r.where))
	for lq := range r.where {
		qs = append(qs, lq)
	}
	return qs
}

func (r *reactor) closeAll() {
	r.mu.Lock()
	qs := make([]*LiveQuery, 0, len(r.where))
	for lq := range r.where {
		qs = append(qs, lq)
	}
	qs = append(qs, r.members()...)
	var ws []*EntityWatch
	for _, m := range r.entities {
		for w := range m {
			ws = append(ws, w)
		}
	}
	r.mu.Unlock()
	for _, lq := range qs {
		lq.Close()
	}
	for _, w := range ws {
		w.Close()
	}
	r.aggs.closeAll()
}

func inRange(rt rangeTerm, v value.Value) bool {
	if !value.Comparable(v, rt.val) {
		return false
	}
	c := value.Compare(v, rt.val)
	switch rt.op {
	case query.Lt:
		return c < 0
	case query.Le:
		return c <= 0
	case query.Gt:
		return c > 0
	case query.Ge:
		return c >= 0
	}
	return false
}

// notify hands the changes of one stored commit to the live queries they can
// touch (called with the change log's lock held, so in log order). The
// reads they make meanwhile use this node's cache only (cacheOnly).
func (r *reactor) notify(ctx context.Context, _ *Node, changes []change) {
	r.mu.Lock()
	r.settle()
	// Each live query's hits, as indexes into changes (in order, each once).
	perQuery := map[*LiveQuery][]int32{}
	var order []*LiveQuery
	type entityHit struct {
		w  *EntityWatch
		ch *change
	}
	var watched []entityHit
	for i := range changes {
		ch := &changes[i]
		for ew := range r.entities[ch.after.ID] {
			watched = append(watched, entityHit{ew, ch})
		}
		w := r.colls[ch.collection]
		if w == nil {
			continue
		}
		hit := func(lq *LiveQuery) {
			if w := lq.window.Load(); w != nil && w.outside(&ch.after) {
				return // cannot enter the query's full window
			}
			hits, seen := perQuery[lq]
			if !seen {
				order = append(order, lq)
			}
			if len(hits) == 0 || hits[len(hits)-1] != int32(i) {
				perQuery[lq] = append(hits, int32(i))
			}
		}
		states := []*entity.State{&ch.after}
		if ch.before != nil {
			states = append(states, ch.before)
		}
		for prop, byKey := range w.eq {
			for _, st := range states {
				if k, ok := eqKey(st.Values.Get(prop)); ok {
					for lq := range byKey[k] {
						hit(lq)
					}
				}
			}
		}
		for prop, ri := range w.ranges {
			for _, st := range states {
				ri.match(st.Values.Get(prop), hit)
			}
		}
		for lq := range w.scan {
			hit(lq)
		}
		for _, bi := range w.bounded {
			bi.match(&ch.after, hit) // holders cover the entity's earlier state
		}
		if ch.beforeUnknown {
			// Another server's change of an entity whose earlier state is
			// not known here: any live query of the collection may hold it.
			for _, byKey := range w.eq {
				for _, qs := range byKey {
					for lq := range qs {
						hit(lq)
					}
				}
			}
			for _, ri := range w.ranges {
				for _, e := range ri.lowers {
					hit(e.lq)
				}
				for _, e := range ri.uppers {
					hit(e.lq)
				}
			}
		}
	}
	r.mu.Unlock()
	// Changes of entities that live queries include wait in each query for
	// its ChangeSet of the commit (or are settled after the row changes).
	incHits, incOrder := r.inc.match(changes)
	// What the queries read while notified comes from this node's cache
	// (cacheOnly); the context is marked only when something may read.
	if len(order) > 0 || len(incOrder) > 0 || len(watched) > 0 {
		ctx = cacheOnly(ctx)
	}
	for _, lq := range incOrder {
		lq.mu.Lock()
		lq.incPending = append(lq.incPending, incHits[lq]...)
		lq.mu.Unlock()
	}
	// LIMITed live queries of one caller and selection settle a commit once:
	// the first (the leader) applies it, the others take its result.
	type key struct {
		c     *Context
		share string
	}
	keys := make([]key, len(order))
	var count map[key]int
	for i, lq := range order {
		lq.mu.Lock()
		keys[i] = key{lq.ctx, lq.share}
		lq.mu.Unlock()
		if keys[i].share != "" {
			if count == nil {
				count = map[key]int{}
			}
			count[keys[i]]++
		}
	}
	// A query hit by every change (a bulk load into one query, say) reads
	// changes itself: the consumers only read them.
	hitChanges := func(lq *LiveQuery) []change {
		hits := perQuery[lq]
		if len(hits) == len(changes) {
			return changes
		}
		out := make([]change, len(hits))
		for k, i := range hits {
			out[k] = changes[i]
		}
		return out
	}
	var leads map[key]*shared
	for i, lq := range order {
		k := keys[i]
		if count[k] < 2 {
			lq.apply(ctx, hitChanges(lq))
			continue
		}
		if sh := leads[k]; sh != nil {
			lq.adopt(ctx, sh, hitChanges(lq))
			continue
		}
		if sh := lq.applyLead(ctx, hitChanges(lq)); sh != nil {
			if leads == nil {
				leads = map[key]*shared{}
			}
			leads[k] = sh
		}
	}
	for _, lq := range incOrder {
		lq.settleIncludes(ctx)
	}
	r.refs.notify(ctx, changes)
	for _, h := range watched {
		h.w.changed(ctx, h.ch)
	}
	r.aggs.notify(ctx, changes)
	r.flush()
}

// flush sends each peer's collected subscription updates as one message
// (called with the change log's lock held).
func (r *reactor) flush() {
	for _, p := range r.dirty {
		p.flushUpdates()
	}
	r.dirty = r.dirty[:0]
}
