package kv_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
	"github.com/ankurah/ankurah-go/core/value"
)

// GetStatesShared reads what GetState reads, for many entities at once and
// across read batches: each stored state in the order asked, a zero state
// for each entity not stored.
func TestGetStatesShared_ReadsWhatGetStateReads(t *testing.T) {
	ctx := context.Background()
	e, err := kv.New(ctx, kv.NewMemoryStore(), kv.WithBatchSize(3))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b := &storage.Batch{}
	var ids []id.EntityID
	for i := range 10 {
		nonce := make([]byte, event.NonceSize)
		nonce[0] = byte(i)
		g := event.NewGenesis("c", map[string][]byte{"lww": {byte(i)}}, nonce, 1)
		ids = append(ids, g.Entity)
		if i%3 == 2 {
			continue // not stored
		}
		b.Events = append(b.Events, g)
		b.States = append(b.States, storage.StateWrite{State: entity.State{ID: g.Entity, Collection: "c", Head: event.NewClock(g.ID()), Values: value.FieldsOf(map[string]value.Value{"n": value.Int(int64(i))})}})
	}
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	c, err := e.Collection(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.(storage.ManyReader).GetStatesShared(ctx, ids)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("GetStatesShared = %d states, %v", len(got), err)
	}
	for i, eid := range ids {
		one, err := c.GetState(ctx, eid)
		switch {
		case i%3 == 2:
			if !got[i].ID.IsZero() {
				t.Errorf("entity %d is not stored, read %v", i, got[i].ID)
			}
		case err != nil:
			t.Fatal(err)
		case got[i].ID != eid || !got[i].Head.Equal(one.Head) || got[i].Values.Get("n") != one.Values.Get("n"):
			t.Errorf("entity %d: %v, GetState %v", i, got[i], one)
		}
	}
}
