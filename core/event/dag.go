package event

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core/id"
)

// Source gives the events the DAG comparison walks. Missing ids are omitted
// from the result; storage.Collection satisfies it.
type Source interface {
	GetEvents(ctx context.Context, ids []id.EventID) ([]Event, error)
}

// Relation is how one clock stands to another in the event DAG.
type Relation int

// The relations Compare reports, of subject to other.
const (
	// Equal: the clocks hold the same events.
	Equal Relation = iota
	// StrictDescends: every event of other is an ancestor of subject.
	StrictDescends
	// StrictAscends: every event of subject is an ancestor of other.
	StrictAscends
	// DivergedSince: the clocks share history up to Meet and each has events the other lacks.
	DivergedSince
	// Disjoint: the clocks share no history (different entities).
	Disjoint
)

var relationNames = [...]string{"Equal", "StrictDescends", "StrictAscends", "DivergedSince", "Disjoint"}

// String names the relation.
func (r Relation) String() string {
	if int(r) < len(relationNames) {
		return relationNames[r]
	}
	return fmt.Sprintf("Relation(%d)", int(r))
}

// Comparison is the result of Compare. Meet is set for DivergedSince: the
// greatest common ancestors of the two clocks.
type Comparison struct {
	Relation Relation
	Meet     Clock
}

// DefaultBudget is the number of events a comparison may visit by default.
const DefaultBudget = 10000

// Compare relates subject to other by walking their ancestors in src, visiting
// at most budget events; past it, it returns ErrBudgetExceeded.
func Compare(ctx context.Context, src Source, subject, other Clock, budget int) (Comparison, error) {
	if subject.Equal(other) {
		return Comparison{Relation: Equal}, nil
	}
	if len(subject) == 0 || len(other) == 0 {
		return Comparison{Relation: Disjoint}, nil
	}
	const fromSubject, fromOther = 1, 2
	marks := map[id.EventID]uint8{}
	parents := map[id.EventID]Clock{}
	var queue []id.EventID
	mark := func(e id.EventID, m uint8) {
		if old := marks[e]; old|m != old {
			marks[e] = old | m
			queue = append(queue, e)
		}
	}
	for _, e := range subject {
		mark(e, fromSubject)
	}
	for _, e := range other {
		mark(e, fromOther)
	}
	all := func(c Clock, m uint8) bool {
		for _, e := range c {
			if marks[e]&m == 0 {
				return false
			}
		}
		return true
	}
	visited := 0
	for len(queue) > 0 {
		if all(other, fromSubject) {
			return Comparison{Relation: StrictDescends}, nil
		}
		if all(subject, fromOther) {
			return Comparison{Relation: StrictAscends}, nil
		}
		// Fetch every queued event whose parents are not yet known in one call.
		var need []id.EventID
		for _, e := range queue {
			if _, ok := parents[e]; !ok {
				need = append(need, e)
			}
		}
		if len(need) > 0 {
			visited += len(need)
			if visited > budget {
				return Comparison{}, fmt.Errorf("%w: more than %d events", ErrBudgetExceeded, budget)
			}
			evs, err := src.GetEvents(ctx, need)
			if err != nil {
				return Comparison{}, err
			}
			for i := range evs {
				parents[evs[i].ID()] = evs[i].Parent
			}
			for _, e := range need {
				if _, ok := parents[e]; !ok {
					return Comparison{}, fmt.Errorf("%w: %s", ErrMissingParent, e)
				}
			}
		}
		batch := queue
		queue = nil
		for _, e := range batch {
			for _, p := range parents[e] {
				mark(p, marks[e])
			}
		}
	}
	if all(other, fromSubject) {
		return Comparison{Relation: StrictDescends}, nil
	}
	if all(subject, fromOther) {
		return Comparison{Relation: StrictAscends}, nil
	}
	// Every ancestor is now marked; the meet is the common events no common event descends from.
	nonMaximal := map[id.EventID]bool{}
	var common []id.EventID
	for e, m := range marks {
		if m == fromSubject|fromOther {
			common = append(common, e)
			for _, p := range parents[e] {
				nonMaximal[p] = true
			}
		}
	}
	if len(common) == 0 {
		return Comparison{Relation: Disjoint}, nil
	}
	var meet []id.EventID
	for _, e := range common {
		if !nonMaximal[e] {
			meet = append(meet, e)
		}
	}
	return Comparison{Relation: DivergedSince, Meet: NewClock(meet...)}, nil
}

// CompareEvent relates an incoming event (not yet stored) to an entity head:
// StrictDescends means the event builds on everything in head; DivergedSince
// means it is concurrent with part of head; StrictAscends or Equal means it
// is already part of head's history (callers check storage for that first).
func CompareEvent(ctx context.Context, src Source, ev *Event, head Clock, budget int) (Comparison, error) {
	if len(head) == 0 {
		if ev.IsGenesis() {
			return Comparison{Relation: StrictDescends}, nil
		}
		return Comparison{Relation: Disjoint}, nil
	}
	if ev.IsGenesis() {
		if len(head) == 1 && head[0] == ev.ID() {
			return Comparison{Relation: Equal}, nil
		}
		return Comparison{Relation: Disjoint}, nil
	}
	evID := ev.ID()
	if head.Contains(evID) {
		return Comparison{Relation: Equal}, nil
	}
	c, err := Compare(ctx, src, ev.Parent, head, budget)
	if err != nil {
		return c, err
	}
	switch c.Relation {
	case Equal, StrictDescends:
		return Comparison{Relation: StrictDescends}, nil
	case StrictAscends:
		// The event's parents are behind head: the event is either already in
		// head's history or concurrent with what head added since its parents.
		return Comparison{Relation: DivergedSince, Meet: ev.Parent}, nil
	}
	return c, nil
}
