package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Many LIMITed live queries with distinct range and scan selections — held
// by their full windows' boundaries while full, in the range and scan lists
// while not — each equal a fresh fetch after every commit: rows enter,
// move, leave, are deleted, and windows fill and empty again.
func TestLiveQuery_BoundedWindowsEachEqualAFetch(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(0); seed < 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			n := newNode(t)
			c := n.Context(nil)
			rng := rand.New(rand.NewPCG(seed, 11))
			var qs []string
			for q := 0; q < 12; q++ {
				qs = append(qs,
					fmt.Sprintf("n >= %d ORDER BY n LIMIT 3", q*2),
					fmt.Sprintf("n < %d ORDER BY n DESC LIMIT 2", q*2+5),
					fmt.Sprintf("n > %d ORDER BY g, n DESC LIMIT %d", q, 1+q%4))
			}
			qs = append(qs, "true LIMIT 4", "true ORDER BY n LIMIT 5", "g = 1 OR n > 20 ORDER BY n LIMIT 3")
			var ids []id.EntityID
			trx := c.Begin()
			var created []*core.Mut // their ids are known once committed
			for i := 0; i < 30; i++ {
				m, err := trx.Create(ctx, "row")
				must(t, err)
				must(t, m.Set("n", rng.IntN(30)))
				must(t, m.Set("g", rng.IntN(3)))
				created = append(created, m)
			}
			must(t, trx.Commit(ctx))
			for _, m := range created {
				ids = append(ids, m.ID())
			}
			// Most open over full windows; the rest join halfway.
			lqs := make([]*core.LiveQuery, len(qs))
			open := func(i int) {
				lq, err := c.Query(ctx, "row", qs[i])
				must(t, err)
				t.Cleanup(lq.Close)
				lqs[i] = lq
			}
			for i := range qs {
				if i%5 != 4 {
					open(i)
				}
			}
			for step := 0; step < 200; step++ {
				if step == 100 {
					for i := range qs {
						if i%5 == 4 {
							open(i)
						}
					}
				}
				trx := c.Begin()
				var made *core.Mut
				switch k := rng.IntN(10); {
				case k < 4 || len(ids) < 5:
					m, err := trx.Create(ctx, "row")
					must(t, err)
					must(t, m.Set("n", rng.IntN(30)))
					must(t, m.Set("g", rng.IntN(3)))
					made = m
				case k < 8:
					for j := 0; j < 1+rng.IntN(3); j++ {
						eid := ids[rng.IntN(len(ids))]
						if lq := lqs[rng.IntN(len(lqs))]; lq != nil && rng.IntN(2) == 0 {
							if items := lq.Items(); len(items) > 0 {
								eid = items[rng.IntN(len(items))].ID() // a row of a window
							}
						}
						m, err := trx.Edit(ctx, "row", eid)
						if errors.Is(err, storage.ErrNotFound) {
							continue
						}
						must(t, err)
						must(t, m.Set("n", rng.IntN(30)))
					}
				default:
					if err := trx.Delete(ctx, "row", ids[rng.IntN(len(ids))]); err != nil && !errors.Is(err, storage.ErrNotFound) {
						t.Fatal(err)
					}
				}
				must(t, trx.Commit(ctx))
				if made != nil {
					ids = append(ids, made.ID())
				}
				for i, q := range qs {
					if lqs[i] == nil {
						continue
					}
					want, err := c.Fetch(ctx, "row", q)
					must(t, err)
					if err := sameRows(lqs[i].Items(), want); err != nil {
						t.Fatalf("step %d, %s: %v", step, q, err)
					}
				}
			}
		})
	}
}
