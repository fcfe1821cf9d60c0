package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// Writers report through channels: only the case's goroutine may call
// FailNow, and a custom T need not be safe for concurrent use.

func testConcurrentDisjoint(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "disjoint")
	const writers, batches, perBatch = 6, 20, 5
	errs := make(chan error, writers*batches)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []id.EntityID
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := &storage.Batch{}
				var mine []id.EntityID
				for i := range perBatch {
					g := genesis(c.Name(), fmt.Sprintf("w%d-b%d-%d", w, b, i))
					batch.Events = append(batch.Events, g)
					batch.States = append(batch.States, storage.StateWrite{State: stateAt(map[string]value.Value{"w": value.Int(int64(w))}, g)})
					mine = append(mine, g.Entity)
				}
				if err := e.Apply(ctx, batch); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					continue
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Apply of a disjoint batch: %v", err)
	}
	fetchExpect(ctx, t, c, "true", nil, sortedIDs(all...))
	if len(all) != writers*batches*perBatch {
		t.Errorf("%d entities written, want %d", len(all), writers*batches*perBatch)
	}
}

func testConcurrentConflicting(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "conflicting")
	g := genesis(c.Name(), "contended")
	mustApply(ctx, t, e, create(g, map[string]value.Value{"winner": value.Int(-1)}))
	const writers = 8
	type outcome struct {
		w   int
		err error
	}
	out := make(chan outcome, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			ev := child(g, fmt.Sprint("writer ", w))
			// Each batch also creates an entity of its own: all or nothing.
			own := genesis(c.Name(), fmt.Sprint("own ", w))
			<-start
			err := e.Apply(ctx, &storage.Batch{
				Events: []event.Event{ev, own},
				States: []storage.StateWrite{
					{State: stateAt(map[string]value.Value{"winner": value.Int(int64(w))}, ev), Expected: event.NewClock(g.ID())},
					{State: stateAt(map[string]value.Value{"own": value.Int(int64(w))}, own)},
				},
			})
			out <- outcome{w, err}
		})
	}
	close(start)
	wg.Wait()
	close(out)
	winner := -1
	for o := range out {
		switch {
		case o.err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both succeeded from the same expected head", winner, o.w)
			}
			winner = o.w
		case errors.Is(o.err, storage.ErrConflict):
		default:
			t.Errorf("writer %d: %v, want nil or an error wrapping storage.ErrConflict", o.w, o.err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer succeeded")
	}
	got := mustGet(ctx, t, c, g.Entity)
	if w, _ := got.Values.Get("winner").AsInt(); w != int64(winner) {
		t.Errorf("stored winner %d, but writer %d was told it succeeded", w, winner)
	}
	want := genesis(c.Name(), fmt.Sprint("own ", winner)).Entity
	fetchExpect(ctx, t, c, "own IS NOT NULL", nil, []id.EntityID{want})
}

// testNoLostUpdates runs read-modify-write loops that retry on conflict;
// every increment must survive.
func testNoLostUpdates(ctx context.Context, t T, h Harness) {
	e := h.Engine()
	c := openCollection(ctx, t, e, "counter")
	g := genesis(c.Name(), "counter")
	mustApply(ctx, t, e, create(g, map[string]value.Value{"n": value.Int(0)}))
	const writers, increments, maxAttempts = 4, 25, 10_000
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range increments {
				for attempt := 0; ; attempt++ {
					if attempt == maxAttempts {
						errs <- fmt.Errorf("writer %d increment %d: no success in %d attempts", w, i, maxAttempts)
						return
					}
					cur, err := c.GetState(ctx, g.Entity)
					if err != nil {
						errs <- fmt.Errorf("writer %d: GetState: %w", w, err)
						return
					}
					n, _ := cur.Values.Get("n").AsInt()
					ev := event.Event{Collection: c.Name(), Entity: g.Entity, Parent: cur.Head,
						Operations: map[string][]byte{backendName: fmt.Appendf(nil, "w%d i%d", w, i)}}
					st := stateAt(map[string]value.Value{"n": value.Int(n + 1)}, ev)
					err = e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: st, Expected: cur.Head}}})
					if err == nil {
						break
					}
					if !errors.Is(err, storage.ErrConflict) {
						errs <- fmt.Errorf("writer %d: Apply: %w", w, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%v", err)
	}
	got := mustGet(ctx, t, c, g.Entity)
	if n, _ := got.Values.Get("n").AsInt(); n != writers*increments {
		t.Errorf("counter = %d after %d increments", n, writers*increments)
	}
	evs, err := c.EntityEvents(ctx, g.Entity)
	if err != nil {
		t.Fatalf("EntityEvents: %v", err)
	}
	// Refused batches may not leave their events behind.
	if len(evs) != 1+writers*increments {
		t.Errorf("EntityEvents returned %d events, want %d (genesis and one per increment)", len(evs), 1+writers*increments)
	}
}
