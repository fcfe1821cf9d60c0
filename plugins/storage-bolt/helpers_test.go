package bolt_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// openTemp opens a fresh engine in the test's temporary directory.
func openTemp(t testing.TB, opts ...bolt.Option) (*bolt.Engine, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ankurah.db")
	e, err := bolt.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, path
}

// genesis makes the event creating an entity numbered n and the state it
// leads to, with the given property values.
func genesis(collection string, n uint64, values map[string]value.Value) (event.Event, entity.State) {
	nonce := binary.BigEndian.AppendUint64(make([]byte, 8), n)
	ev := event.NewGenesis(collection, map[string][]byte{"lww": []byte("ops")}, nonce, int64(n))
	return ev, entity.State{
		ID:         ev.Entity,
		Collection: collection,
		Head:       event.NewClock(ev.ID()),
		Backends:   entity.BackendsOf(map[string][]byte{"lww": []byte("state")}),
		Values:     value.FieldsOf(values),
	}
}

// create applies one batch creating an entity, and returns its state.
func create(t testing.TB, e storage.Engine, collection string, n uint64, values map[string]value.Value) entity.State {
	t.Helper()
	ev, s := genesis(collection, n, values)
	if err := e.Apply(context.Background(), &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: s}}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// update makes a child event of s and applies it with the new values.
func update(t testing.TB, e storage.Engine, s entity.State, values map[string]value.Value) (entity.State, error) {
	t.Helper()
	ev := event.Event{Collection: s.Collection, Entity: s.ID, Parent: s.Head, Operations: map[string][]byte{"lww": []byte("more")}}
	next := s.Clone()
	next.Head = s.Head.Advance(ev.ID(), ev.Parent)
	next.Values = value.FieldsOf(values)
	err := e.Apply(context.Background(), &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: next, Expected: s.Head}}})
	return next, err
}

func mustBound(t testing.TB, text string, args ...any) *query.Bound {
	t.Helper()
	b, err := query.ParseBound(text, args...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// boltNoSync is for tests whose point is not durability.
func boltNoSync() bolt.Option { return bolt.WithNoSync(true) }
