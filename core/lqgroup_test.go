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

// follower rebuilds a live query's result from the ChangeSets its
// subscriber receives (Initial, Add, Update, Remove), to compare with a fetch.
type follower struct {
	mu   sync.Mutex
	rows map[id.EntityID]*core.View
	last []*core.View
	sets int
}

func follow(lq *core.LiveQuery) (*follower, func()) {
	f := &follower{rows: map[id.EntityID]*core.View{}}
	unsub := lq.Subscribe(func(cs core.ChangeSet) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sets++
		for _, ch := range cs.Changes {
			switch ch.Kind {
			case core.Initial, core.Add, core.Update:
				f.rows[ch.Entity.ID()] = ch.Entity
			case core.Remove:
				delete(f.rows, ch.Entity.ID())
			}
		}
		f.last = cs.Items
	})
	return f, unsub
}

// agrees reports whether the rebuilt result and the last Items both equal want.
func (f *follower) agrees(want []*core.View) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rows) != len(want) || len(f.last) != len(want) {
		return fmt.Errorf("rebuilt %d rows, last Items %d, fetch %d", len(f.rows), len(f.last), len(want))
	}
	for i, w := range want {
		if r := f.rows[w.ID()]; r == nil || !r.Head().Equal(w.Head()) {
			return fmt.Errorf("row %s missing or stale in the rebuilt result", w.ID())
		}
		if f.last[i].ID() != w.ID() || !f.last[i].Head().Equal(w.Head()) {
			return fmt.Errorf("Items[%d] is %s, fetch has %s", i, f.last[i].ID(), w.ID())
		}
	}
	return nil
}

func sameRows(got, want []*core.View) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d rows, fetch %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID() != want[i].ID() || !got[i].Head().Equal(want[i].Head()) {
			return fmt.Errorf("row %d: %s, fetch %s", i, got[i].ID(), want[i].ID())
		}
	}
	return nil
}

// LIMITed live queries of one caller and selection share one result: some
// are only read, some subscribed, one watched through its signal, some are
// re-pointed away and back, closed, or opened late. After every commit each
// one's Items, each subscriber's rebuilt result and last Items, and each
// signal equal a fresh fetch.
func TestLiveQuery_GroupedLimitedQueriesEachEqualAFetch(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(0); seed < 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			n := newNode(t)
			c := n.Context(nil)
			rng := rand.New(rand.NewPCG(seed, 9))
			const q, other = "n >= 5 ORDER BY n DESC LIMIT 4", "g = 1 ORDER BY n LIMIT 3"
			var ids []id.EntityID
			type member struct {
				lq     *core.LiveQuery
				f      *follower
				sig    bool
				closed bool
				away   bool
			}
			var ms []*member
			open := func() {
				lq, err := c.Query(ctx, "row", q)
				must(t, err)
				t.Cleanup(lq.Close)
				ms = append(ms, &member{lq: lq})
			}
			for i := 0; i < 4; i++ {
				open()
			}
			for step := 0; step < 120; step++ {
				switch step {
				case 10:
					ms[1].f, _ = follow(ms[1].lq)
				case 20:
					ms[2].sig = true
					_ = ms[2].lq.Signal()
				case 30, 90:
					open()
				case 40:
					must(t, ms[3].lq.UpdateSelection(ctx, other))
					ms[3].away = true
				case 60:
					must(t, ms[3].lq.UpdateSelection(ctx, q))
					ms[3].away = false
					ms[3].f, _ = follow(ms[3].lq)
				case 70:
					ms[0].lq.Close()
					ms[0].closed = true
				}
				trx := c.Begin()
				var created *core.Mut // its id is known once committed
				if rng.IntN(10) < 3 || len(ids) < 5 {
					m, err := trx.Create(ctx, "row")
					must(t, err)
					must(t, m.Set("n", rng.IntN(30)))
					must(t, m.Set("g", rng.IntN(2)))
					created = m
				} else if rng.IntN(10) < 8 {
					m, err := trx.Edit(ctx, "row", ids[rng.IntN(len(ids))])
					if err == nil {
						must(t, m.Set("n", rng.IntN(30)))
					} else if !errors.Is(err, storage.ErrNotFound) {
						t.Fatal(err)
					}
				} else if err := trx.Delete(ctx, "row", ids[rng.IntN(len(ids))]); err != nil && !errors.Is(err, storage.ErrNotFound) {
					t.Fatal(err)
				}
				must(t, trx.Commit(ctx))
				if created != nil {
					ids = append(ids, created.ID())
				}
				want, err := c.Fetch(ctx, "row", q)
				must(t, err)
				wantOther, err := c.Fetch(ctx, "row", other)
				must(t, err)
				for k, m := range ms {
					if m.closed {
						continue
					}
					w := want
					if m.away {
						w = wantOther
					}
					if err := sameRows(m.lq.Items(), w); err != nil {
						t.Fatalf("step %d, query %d: Items: %v", step, k, err)
					}
					if m.f != nil {
						var err error
						for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
							if err = m.f.agrees(w); err == nil {
								break
							}
						}
						if err != nil {
							t.Fatalf("step %d, query %d: subscriber: %v", step, k, err)
						}
					}
					if m.sig {
						var err error
						for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
							if err = sameRows(m.lq.Signal().Get(), w); err == nil {
								break
							}
						}
						if err != nil {
							t.Fatalf("step %d, query %d: signal: %v", step, k, err)
						}
					}
				}
			}
		})
	}
}
