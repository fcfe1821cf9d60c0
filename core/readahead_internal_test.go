package core

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// A commit large enough to read its lookups ahead (readAheadMin) writes
// what one read entity by entity writes: creations, then edits of stored
// entities beside new ones, then the same events again (nothing changes), on
// an engine that reads many states at once (kv: the states and attribution
// records are read ahead too) and on one that does not (memory: the events
// are).
func TestCommit_BulkReadsItsLookupsAhead(t *testing.T) {
	const size = readAheadMin + 8
	engines := map[string]func() storage.Engine{
		"memory": func() storage.Engine { return memory.New() },
		"kv": func() storage.Engine {
			e, err := kv.New(context.Background(), kv.NewMemoryStore(), kv.WithBatchSize(7))
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			n, err := NewNode(ctx, open(), policy.Permissive{})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			c := n.Context(nil)
			trx := c.Begin()
			var muts []*Mut
			for i := range size {
				m, err := trx.Create(ctx, "album")
				if err != nil {
					t.Fatal(err)
				}
				m.Set("n", i)
				muts = append(muts, m)
			}
			if err := trx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			edit := c.Begin()
			for i, m := range muts {
				e, err := edit.Edit(ctx, "album", m.ID())
				if err != nil {
					t.Fatal(err)
				}
				e.Set("n", 100+i)
			}
			for i := range 4 {
				m, err := edit.Create(ctx, "album")
				if err != nil {
					t.Fatal(err)
				}
				m.Set("n", 1000+i)
			}
			if err := edit.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			for i, m := range muts {
				v, err := c.Get(ctx, "album", m.ID())
				if err != nil {
					t.Fatal(err)
				}
				if got := v.Get("n"); got != value.Int(int64(100+i)) {
					t.Fatalf("entity %d: n = %v, want %d", i, got, 100+i)
				}
				if a, err := n.Attribution(ctx, m.ID()); err != nil || len(a) != 2 {
					t.Fatalf("entity %d: %d attributions (%v), want 2", i, len(a), err)
				}
			}
			all, err := c.Fetch(ctx, "album", "true")
			if err != nil || len(all) != size+4 {
				t.Fatalf("Fetch = %d entities (%v), want %d", len(all), err, size+4)
			}
			// The same events again, as a client re-sending a commit whose
			// answer it lost: all stored already, nothing is written.
			coll, _ := n.readCollection(ctx, "album")
			var evs []event.Event
			for _, m := range muts {
				got, err := coll.EntityEvents(ctx, m.ID())
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, got...)
			}
			changes, err := n.commitEvents(ctx, nil, "", evs, false, nil)
			if err != nil || len(changes) != 0 {
				t.Fatalf("the same %d events again: %d changes (%v), want none", len(evs), len(changes), err)
			}
			if a, err := n.Attribution(ctx, muts[0].ID()); err != nil || len(a) != 2 {
				t.Fatalf("after the repeat: %d attributions (%v), want 2", len(a), err)
			}
		})
	}
}
