package core

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
)

// makeRoom before the adds keeps the record that adding everything and then
// keeping the newest would: the same entries, naming the same authors and
// peers (Names may list them in another order), for
// records from empty to full and batches from one event to more than keep.
func TestAttributionRecord_MakeRoomKeepsTheNewest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		keep := 1 + r.IntN(8)
		var a, b attributionRecord
		for step := range 6 {
			more := 1 + r.IntN(keep+3)
			a.makeRoom(keep, more)
			for i := range more {
				ev := id.EventID{byte(trial), byte(step), byte(i)}
				author, peer := fmt.Sprint("u", r.IntN(4)), fmt.Sprint("p", r.IntN(3))
				a.add(ev, author, peer, int64(step*100+i))
				b.add(ev, author, peer, int64(step*100+i))
			}
			a.keepNewest(keep)
			b.keepNewest(keep)
			if !slices.Equal(listed(&a), listed(&b)) {
				t.Fatalf("trial %d step %d (keep %d, %d added): entries differ:\n%v\n%v", trial, step, keep, more, listed(&a), listed(&b))
			}
			if len(a.Names) > 2*a.entries() {
				t.Fatalf("trial %d: %d names for %d entries", trial, len(a.Names), a.entries())
			}
			if a.entries() > keep {
				t.Fatalf("trial %d: %d entries kept, keep %d", trial, a.entries(), keep)
			}
		}
	}
}

func listed(r *attributionRecord) []Attribution {
	out := make([]Attribution, r.entries())
	for i := range out {
		out[i] = r.entry(i)
	}
	return out
}
