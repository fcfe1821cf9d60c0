package postgres_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// dropSchema removes a test's schema, so a long run leaves nothing behind.
func dropSchema(t interface{ Logf(string, ...any) }, url, schema string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Logf("dropping schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Logf("dropping schema %s: %v", schema, err)
	}
}

// genesis makes the creation event of an entity labelled label.
func genesis(collection, label string) event.Event {
	sum := sha256.Sum256([]byte(collection + "\x00" + label))
	return event.NewGenesis(collection, map[string][]byte{"lww": []byte(label)}, sum[:event.NonceSize], 1_700_000_000_000)
}

// create is the batch creating ev's entity with values.
func create(ev event.Event, values map[string]value.Value) *storage.Batch {
	return &storage.Batch{
		Events: []event.Event{ev},
		States: []storage.StateWrite{{State: entity.State{
			ID: ev.Entity, Collection: ev.Collection, Head: event.NewClock(ev.ID()),
			Backends: entity.BackendsOf(map[string][]byte{"lww": []byte("state")}), Values: value.FieldsOf(values),
		}}},
	}
}

func mustApply(t testing.TB, e storage.Engine, b *storage.Batch) {
	t.Helper()
	if err := e.Apply(context.Background(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustCollection(t testing.TB, e storage.Engine, name string) storage.Collection {
	t.Helper()
	c, err := e.Collection(context.Background(), name)
	if err != nil {
		t.Fatalf("Collection(%q): %v", name, err)
	}
	return c
}

// fetchIDs runs a query and returns the ids of the states it gives, in order.
func fetchIDs(t testing.TB, c storage.Collection, q string, args ...any) []id.EntityID {
	t.Helper()
	sel, err := query.ParseBound(q, args...)
	if err != nil {
		t.Fatalf("ParseBound(%q): %v", q, err)
	}
	states, err := c.FetchStates(context.Background(), sel)
	if err != nil {
		t.Fatalf("FetchStates(%q): %v", q, err)
	}
	out := make([]id.EntityID, len(states))
	for i, s := range states {
		out[i] = s.ID
	}
	return out
}
