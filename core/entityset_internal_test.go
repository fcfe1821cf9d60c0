package core

import (
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
)

// An entitySet gives each id back once, in the slice form (a few ids) and
// the map form (more), and nothing it was not given.
func TestEntitySet_TakesEachIDOnce(t *testing.T) {
	for _, n := range []int{0, 1, entitySetSlice, entitySetSlice + 1, 100} {
		ids := make([]id.EntityID, n)
		for i := range ids {
			ids[i] = id.EntityID{byte(i), byte(i >> 8), 1}
		}
		s := newEntitySet(ids)
		if s.take(id.EntityID{0xff}) {
			t.Fatalf("%d ids: took an id it was not given", n)
		}
		for i := n - 1; i >= 0; i-- {
			if !s.take(ids[i]) {
				t.Fatalf("%d ids: id %d not taken", n, i)
			}
			if s.take(ids[i]) {
				t.Fatalf("%d ids: id %d taken twice", n, i)
			}
		}
	}
	// The caller's slice is not changed.
	ids := []id.EntityID{{1}, {2}}
	s := newEntitySet(ids)
	s.take(id.EntityID{1})
	if ids[0] != (id.EntityID{1}) || ids[1] != (id.EntityID{2}) {
		t.Fatalf("the caller's ids changed: %v", ids)
	}
}

// An entitySet built by add holds each id once, past the slice form too,
// and expectedIndex finds each computed state by its id, in the search
// form and the index form.
func TestEntitySet_AddAndExpectedIndex(t *testing.T) {
	for _, n := range []int{1, entitySetSlice, entitySetSlice + 1, 100} {
		var s entitySet
		states := make([]entity.State, n)
		for i := range states {
			eid := id.EntityID{byte(i), byte(i >> 8), 2}
			states[i].ID = eid
			if !s.add(eid) {
				t.Fatalf("%d ids: id %d was in the set before it was added", n, i)
			}
			if s.add(eid) {
				t.Fatalf("%d ids: id %d added twice", n, i)
			}
		}
		find := expectedIndex(states)
		for i := range states {
			if !s.has(states[i].ID) {
				t.Fatalf("%d ids: id %d missing", n, i)
			}
			if k := find(states[i].ID); k != i {
				t.Fatalf("%d ids: id %d found at %d", n, i, k)
			}
		}
		if s.has(id.EntityID{0xff}) || find(id.EntityID{0xff}) != -1 {
			t.Fatalf("%d ids: found an id never given", n)
		}
	}
}

// A transaction finds the Mut of each entity it edits, by search while few
// and by index past entitySetSlice, and never a creation's.
func TestTransaction_MutOfFindsEachEditedEntity(t *testing.T) {
	trx := &Transaction{}
	created := &Mut{trx: trx, created: true}
	trx.entities = append(trx.entities, created)
	var muts []*Mut
	for i := 0; i < 3*entitySetSlice; i++ {
		m := &Mut{trx: trx, id: id.EntityID{byte(i), 7}}
		trx.addEdited(m)
		muts = append(muts, m)
		for _, w := range muts {
			if got := trx.mutOf(w.id); got != w {
				t.Fatalf("after %d edits: entity %v found as %p, want %p", i+1, w.id, got, w)
			}
		}
		if trx.mutOf(id.EntityID{}) != nil || trx.mutOf(id.EntityID{0xff}) != nil {
			t.Fatalf("after %d edits: found an entity not edited", i+1)
		}
	}
}
