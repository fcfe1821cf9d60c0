package core

import (
	"testing"

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
