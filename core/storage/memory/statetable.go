package memory

import (
	"iter"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
)

// stateChunk is how many states a stateTable allocates at once.
const stateChunk = 256

// stateTable holds a collection's stored states by entity id. The map
// holds pointers into chunks of stateChunk states, so it grows by moving
// 24-byte slots, not 100-byte ones, and a catch-up of n states allocates
// n/stateChunk chunks instead of rehashing their copies as the map grows.
// A slot is overwritten when its entity is stored again and cleared (its
// maps and bytes let go) and reused when its entity is removed; the
// engine's lock guards every slot, and readers copy a state out under it
// (stored states share their maps and bytes, which are never modified in
// place, so the copy stays valid after the lock is released).
type stateTable struct {
	byID  map[id.EntityID]*entity.State
	chunk []entity.State  // the chunk new slots come from
	free  []*entity.State // cleared slots of removed entities
}

func newStateTable() stateTable {
	return stateTable{byID: map[id.EntityID]*entity.State{}}
}

// len returns the number of stored states.
func (t *stateTable) len() int { return len(t.byID) }

// get returns the stored state of eid.
func (t *stateTable) get(eid id.EntityID) (entity.State, bool) {
	p := t.byID[eid]
	if p == nil {
		return entity.State{}, false
	}
	return *p, true
}

// getRef returns the slot of eid (nil when not stored), for reading under
// the lock without copying.
func (t *stateTable) getRef(eid id.EntityID) *entity.State { return t.byID[eid] }

// set stores s, replacing the state of its entity.
func (t *stateTable) set(s entity.State) {
	if p := t.byID[s.ID]; p != nil {
		*p = s
		return
	}
	var p *entity.State
	if n := len(t.free); n > 0 {
		p = t.free[n-1]
		t.free[n-1] = nil
		t.free = t.free[:n-1]
	} else {
		if len(t.chunk) == 0 {
			t.chunk = make([]entity.State, stateChunk)
		}
		p = &t.chunk[0]
		t.chunk = t.chunk[1:]
	}
	*p = s
	t.byID[s.ID] = p
}

// remove drops the state of eid.
func (t *stateTable) remove(eid id.EntityID) {
	p := t.byID[eid]
	if p == nil {
		return
	}
	delete(t.byID, eid)
	*p = entity.State{}
	t.free = append(t.free, p)
}

// all yields every stored state's slot, in no particular order.
func (t *stateTable) all() iter.Seq[*entity.State] {
	return func(yield func(*entity.State) bool) {
		for _, p := range t.byID {
			if !yield(p) {
				return
			}
		}
	}
}
