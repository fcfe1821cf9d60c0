package core

import (
	"context"
	"sync"
)

// aggRegistry is the reactor's set of live aggregates, by collection. Every
// change of a collection is offered to its aggregates; each does work in
// proportion to the groups the change touches.
type aggRegistry struct {
	mu    sync.Mutex
	byCol map[string]map[*LiveAggregate]struct{}
}

func (r *aggRegistry) add(la *LiveAggregate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	la.mu.Lock()
	closed := la.closed
	la.mu.Unlock()
	if closed {
		return
	}
	if r.byCol == nil {
		r.byCol = map[string]map[*LiveAggregate]struct{}{}
	}
	for _, c := range la.watched() {
		if r.byCol[c] == nil {
			r.byCol[c] = map[*LiveAggregate]struct{}{}
		}
		r.byCol[c][la] = struct{}{}
	}
}

func (r *aggRegistry) remove(la *LiveAggregate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range la.watched() {
		delete(r.byCol[c], la)
		if len(r.byCol[c]) == 0 {
			delete(r.byCol, c)
		}
	}
}

// notify offers a commit's changes to the aggregates of their collections,
// and to those whose selection follows references into them (the change
// log's lock held, so in log order).
func (r *aggRegistry) notify(ctx context.Context, changes []change) {
	r.mu.Lock()
	if len(r.byCol) == 0 {
		r.mu.Unlock()
		return
	}
	var hit []*LiveAggregate
	seen := map[string]bool{}
	hitSeen := map[*LiveAggregate]bool{}
	for i := range changes {
		c := changes[i].collection
		if seen[c] {
			continue
		}
		seen[c] = true
		for la := range r.byCol[c] {
			if !hitSeen[la] {
				hitSeen[la] = true
				hit = append(hit, la)
			}
		}
	}
	r.mu.Unlock()
	if len(hit) > 0 {
		ctx = cacheOnly(ctx) // reads while notified: this node's cache only
	}
	for _, la := range hit {
		la.apply(ctx, changes)
	}
}

func (r *aggRegistry) closeAll() {
	r.mu.Lock()
	var all []*LiveAggregate
	seen := map[*LiveAggregate]bool{}
	for _, m := range r.byCol {
		for la := range m {
			if !seen[la] {
				seen[la] = true
				all = append(all, la)
			}
		}
	}
	r.mu.Unlock()
	for _, la := range all {
		la.Close()
	}
}
