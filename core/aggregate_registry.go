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
	if r.byCol[la.collection] == nil {
		r.byCol[la.collection] = map[*LiveAggregate]struct{}{}
	}
	r.byCol[la.collection][la] = struct{}{}
}

func (r *aggRegistry) remove(la *LiveAggregate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byCol[la.collection], la)
	if len(r.byCol[la.collection]) == 0 {
		delete(r.byCol, la.collection)
	}
}

// notify offers a commit's changes to the aggregates of their collections
// (the change log's lock held, so in log order).
func (r *aggRegistry) notify(ctx context.Context, changes []change) {
	r.mu.Lock()
	if len(r.byCol) == 0 {
		r.mu.Unlock()
		return
	}
	var hit []*LiveAggregate
	seen := map[string]bool{}
	for i := range changes {
		c := changes[i].collection
		if seen[c] {
			continue
		}
		seen[c] = true
		for la := range r.byCol[c] {
			hit = append(hit, la)
		}
	}
	r.mu.Unlock()
	for _, la := range hit {
		la.apply(ctx, changes)
	}
}

func (r *aggRegistry) closeAll() {
	r.mu.Lock()
	var all []*LiveAggregate
	for _, m := range r.byCol {
		for la := range m {
			all = append(all, la)
		}
	}
	r.mu.Unlock()
	for _, la := range all {
		la.Close()
	}
}
