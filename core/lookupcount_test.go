package core_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// lookupCounter is a kv engine that counts the look-ups of collections
// (storage.CollectionLooker: a catalog query on PostgreSQL).
type lookupCounter struct {
	*kv.Engine
	lookups atomic.Int64
}

func (e *lookupCounter) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	e.lookups.Add(1)
	return e.Engine.LookupCollection(ctx, name)
}

// A bulk commit into a collection not yet created looks the collection up
// a few times, not once per entity: a collection that does not exist is
// not remembered (another process may create it), and on PostgreSQL each
// look-up is a catalog query.
func TestCommit_BulkIntoANewCollectionLooksItUpOnce(t *testing.T) {
	ctx := context.Background()
	inner, err := kv.New(ctx, kv.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	e := &lookupCounter{Engine: inner}
	n := newNodeOn(t, e, policy.Permissive{})
	trx := n.Context(nil).Begin()
	const entities = 200
	for i := range entities {
		m, err := trx.Create(ctx, "album")
		if err != nil {
			t.Fatal(err)
		}
		m.Set("n", i)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.lookups.Load(); got > 4 {
		t.Errorf("a commit of %d new entities looked their collection up %d times", entities, got)
	}
	vs, err := n.Context(nil).Fetch(ctx, "album", "n >= 0")
	if err != nil || len(vs) != entities {
		t.Fatalf("fetch after the commit: %d albums, %v; want %d", len(vs), err, entities)
	}
}
