package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Commits of many rows at once (which a live query settles in one pass)
// mixed with small ones keep every unlimited query equal to a fresh fetch,
// in order, and each subscriber hears Add only for a row it did not have,
// Update and Remove only for one it had.
func TestLiveQuery_BulkCommitsEqualAFetch(t *testing.T) {
	ctx := context.Background()
	qs := []string{"n >= 10 ORDER BY n", "true ORDER BY g, n DESC", "g = 1", "true", "n < 20 ORDER BY g DESC, n"}
	for seed := uint64(0); seed < 3; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			n := newNode(t)
			c := n.Context(nil)
			rng := rand.New(rand.NewPCG(seed, 17))
			var ids []id.EntityID
			lqs := make([]*core.LiveQuery, len(qs))
			fs := make([]*kindChecker, len(qs))
			for i, q := range qs {
				lq, err := c.Query(ctx, "row", q)
				must(t, err)
				t.Cleanup(lq.Close)
				lqs[i], fs[i] = lq, checkKinds(t, lq)
			}
			for step := 0; step < 40; step++ {
				trx := c.Begin()
				var created []*core.Mut // their ids are known once committed
				size := 1 + rng.IntN(4)
				if step%3 != 2 {
					size = 32 + rng.IntN(150)
				}
				for j := 0; j < size; j++ {
					switch k := rng.IntN(10); {
					case k < 4 || len(ids) < 10:
						m, err := trx.Create(ctx, "row")
						must(t, err)
						must(t, m.Set("n", rng.IntN(30)))
						must(t, m.Set("g", rng.IntN(3)))
						created = append(created, m)
					case k < 9 && len(ids) > 0:
						m, err := trx.Edit(ctx, "row", ids[rng.IntN(len(ids))])
						if errors.Is(err, storage.ErrNotFound) || errors.Is(err, core.ErrDeleted) {
							continue
						}
						must(t, err)
						must(t, m.Set("n", rng.IntN(30)))
						if rng.IntN(3) == 0 {
							must(t, m.Set("g", rng.IntN(3)))
						}
					case len(ids) > 0:
						if err := trx.Delete(ctx, "row", ids[rng.IntN(len(ids))]); err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, core.ErrDeleted) {
							t.Fatal(err)
						}
					}
				}
				must(t, trx.Commit(ctx))
				for _, m := range created {
					ids = append(ids, m.ID())
				}
				for i, q := range qs {
					want, err := c.Fetch(ctx, "row", q)
					must(t, err)
					if err := sameRows(lqs[i].Items(), want); err != nil {
						t.Fatalf("step %d (%d changes), %s: Items: %v", step, size, q, err)
					}
					for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
						err := fs[i].agrees(want)
						if err == nil {
							break
						}
						if time.Now().After(deadline) {
							t.Fatalf("step %d, %s: subscriber: %v", step, q, err)
						}
					}
				}
			}
			for i, f := range fs {
				if err := f.err(); err != nil {
					t.Errorf("%s: %v", qs[i], err)
				}
			}
		})
	}
}

// kindChecker is a follower that also records a change of the wrong kind:
// an Add of a row it has, an Update or Remove of one it does not.
type kindChecker struct {
	*follower
	mu  sync.Mutex
	bad error
}

func checkKinds(t *testing.T, lq *core.LiveQuery) *kindChecker {
	k := &kindChecker{follower: &follower{rows: map[id.EntityID]*core.View{}}}
	unsub := lq.Subscribe(func(cs core.ChangeSet) {
		f := k.follower
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sets++
		for _, ch := range cs.Changes {
			_, had := f.rows[ch.Entity.ID()]
			wrong := ch.Kind == core.Add && had || (ch.Kind == core.Update || ch.Kind == core.Remove) && !had
			if wrong {
				k.mu.Lock()
				if k.bad == nil {
					k.bad = fmt.Errorf("change %v of %s, which the result did (%v) hold", ch.Kind, ch.Entity.ID(), had)
				}
				k.mu.Unlock()
			}
			switch ch.Kind {
			case core.Initial, core.Add, core.Update:
				f.rows[ch.Entity.ID()] = ch.Entity
			case core.Remove:
				delete(f.rows, ch.Entity.ID())
			}
		}
		f.last = cs.Items
	})
	t.Cleanup(unsub)
	return k
}

func (k *kindChecker) err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.bad
}
