package core

import (
	"slices"
	"sort"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
)

// A LIMITed live query with a full window can only be touched by a change of
// one of its rows, or by a row that sorts before its last row (window.outside).
// Such queries — when no equality term indexes them more sharply — are kept
// in a boundIndex per collection and order instead of the range or scan
// lists: their windows sorted by last row, and their rows by entity. A change
// finds the windows it can enter by binary search and the windows holding it
// by lookup, so a commit that enters no window costs the same with 1,000
// such queries as with one.
//
// Windows change while the reactor applies a commit (under the change log's
// lock, like every window change), so the live query only marks itself
// (boundDirty, a leaf lock); the next notification, which holds the log's
// lock and reactor.mu, moves it (settle) before it matches anything.
type boundIndex struct {
	order   []query.Order
	entries []boundEntry                            // by last row
	holders map[id.EntityID]map[*LiveQuery]struct{} // row -> windows holding it
}

type boundEntry struct {
	w  *window
	lq *LiveQuery
}

// boundDirty holds the live queries whose window changed since the reactor
// last settled them (a set: order does not matter to settle). Bounded by the
// LIMITed live queries that exist: a query leaves it when the reactor
// removes it (reactor.remove) or settles it.
type boundDirty struct {
	mu  sync.Mutex
	lqs map[*LiveQuery]struct{}
}

func (d *boundDirty) mark(lq *LiveQuery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lqs == nil {
		d.lqs = map[*LiveQuery]struct{}{}
	}
	d.lqs[lq] = struct{}{}
}

func (d *boundDirty) forget(lq *LiveQuery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.lqs, lq)
}

func (d *boundDirty) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.lqs)
}

func (d *boundDirty) take() []*LiveQuery {
	d.mu.Lock()
	defer d.mu.Unlock()
	lqs := make([]*LiveQuery, 0, len(d.lqs))
	for lq := range d.lqs {
		lqs = append(lqs, lq)
	}
	clear(d.lqs)
	return lqs
}

func orderKey(order []query.Order) string {
	return (&query.Bound{Where: &query.Literal{Value: true}, OrderBy: order, Limit: -1}).String()
}

func (bi *boundIndex) cmpLast(e boundEntry, st *entity.State) int {
	return query.CompareRows(bi.order, e.w.last.Values, e.w.last.ID, st.Values, st.ID)
}

func (bi *boundIndex) insert(lq *LiveQuery, w *window) {
	i := sort.Search(len(bi.entries), func(i int) bool { return bi.cmpLast(bi.entries[i], w.last) >= 0 })
	bi.entries = slices.Insert(bi.entries, i, boundEntry{w, lq})
	for eid := range w.byID {
		if bi.holders[eid] == nil {
			bi.holders[eid] = map[*LiveQuery]struct{}{}
		}
		bi.holders[eid][lq] = struct{}{}
	}
}

func (bi *boundIndex) delete(lq *LiveQuery, w *window) {
	i := sort.Search(len(bi.entries), func(i int) bool { return bi.cmpLast(bi.entries[i], w.last) >= 0 })
	for ; i < len(bi.entries) && bi.cmpLast(bi.entries[i], w.last) == 0; i++ {
		if bi.entries[i].lq == lq {
			bi.entries = slices.Delete(bi.entries, i, i+1)
			break
		}
	}
	for eid := range w.byID {
		delete(bi.holders[eid], lq)
		if len(bi.holders[eid]) == 0 {
			delete(bi.holders, eid)
		}
	}
}

// match calls hit for every window the changed state can touch: those
// holding the entity and those whose last row does not sort before it.
func (bi *boundIndex) match(st *entity.State, hit func(*LiveQuery)) {
	for lq := range bi.holders[st.ID] {
		hit(lq)
	}
	i := sort.Search(len(bi.entries), func(i int) bool { return bi.cmpLast(bi.entries[i], st) >= 0 })
	for _, e := range bi.entries[i:] {
		if _, held := e.w.byID[st.ID]; !held { // holders already named it
			hit(e.lq)
		}
	}
}

// boundable reports whether a live query placed by p (range or scan, not
// an equality term) goes to a boundIndex while its window is full.
func (p placement) boundable() bool { return p.isRange || p.scan }

// placeBounded moves a range or scan query into its collection's boundIndex
// (r.mu held).
func (r *reactor) placeBounded(w *watch, lq *LiveQuery, p *placement, win *window) {
	if w.bounded == nil {
		w.bounded = map[string]*boundIndex{}
	}
	k := orderKey(win.order)
	bi := w.bounded[k]
	if bi == nil {
		bi = &boundIndex{order: win.order, holders: map[id.EntityID]map[*LiveQuery]struct{}{}}
		w.bounded[k] = bi
	}
	bi.insert(lq, win)
	p.win, p.orderKey = win, k
}

// unplaceBounded takes a query out of its boundIndex (r.mu held).
func (r *reactor) unplaceBounded(w *watch, lq *LiveQuery, p *placement) {
	if bi := w.bounded[p.orderKey]; bi != nil {
		bi.delete(lq, p.win)
		if len(bi.entries) == 0 {
			delete(w.bounded, p.orderKey)
		}
	}
	p.win, p.orderKey = nil, ""
}

// settle moves the live queries whose windows changed since the last
// notification between the range/scan lists and the bound indexes (r.mu
// and the change log's lock held).
func (r *reactor) settle() {
	for _, lq := range r.bdirty.take() {
		p, ok := r.where[lq]
		if !ok || !p.boundable() {
			continue
		}
		w := r.colls[p.collection]
		if w == nil {
			continue
		}
		win := lq.window.Load()
		if win == p.win {
			continue
		}
		if p.win != nil {
			r.unplaceBounded(w, lq, &p)
		} else {
			r.unindexOpen(w, lq, p)
		}
		if win != nil {
			r.placeBounded(w, lq, &p, win)
		} else {
			r.indexOpen(w, lq, p)
		}
		r.where[lq] = p
	}
}
