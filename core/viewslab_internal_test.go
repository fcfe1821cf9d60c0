package core

import (
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
)

// A viewSlab's chunks grow with the Views made (at most half of what it
// allocated unused), never past the Views still to come, and each View
// holds the state it was made of.
func TestViewSlab_ChunksGrowWithUse(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 255, 256, 257, 1000} {
		var s viewSlab
		allocated := 0
		views := make([]*View, n)
		for i := range n {
			if len(s.free) == 0 {
				before := s.made
				views[i] = s.view(entity.State{Collection: "c", Head: nil}, n-i)
				chunk := len(s.free) + 1
				if chunk > n-i || chunk > viewChunk || chunk > max(1, before) {
					t.Fatalf("n=%d: after %d views a chunk of %d (%d still to come)", n, before, chunk, n-i)
				}
				allocated += chunk
			} else {
				views[i] = s.view(entity.State{Collection: "c"}, n-i)
			}
			views[i].state.ID[0] = byte(i)
		}
		if allocated != n {
			t.Errorf("n=%d: %d Views allocated for %d made", n, allocated, n)
		}
		for i, v := range views {
			if v.state.ID[0] != byte(i) || v.state.Collection != "c" {
				t.Fatalf("n=%d: view %d holds %v", n, i, v.state.ID[0])
			}
		}
	}
	// Asked for fewer than a slab may make: the unused part is at most
	// what was used.
	var s viewSlab
	for range 100 {
		s.view(entity.State{}, 1000)
	}
	if len(s.free) > 100 {
		t.Errorf("after 100 views of up to 1,000, %d allocated and unused", len(s.free))
	}
}
