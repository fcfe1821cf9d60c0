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

// A bulk commit into collections not yet created looks each up a few
// times, not once per entity (also when their events interleave): a collection that does not exist is
// not remembered (another process may create it), and on PostgreSQL each
// look-up is a catalog query.
func TestCommit_BulkIntoNewCollectionsLooksEachUpOnce(t *testing.T) {
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
		coll := "album"
		if i%2 == 1 {
			coll = "artist" // two collections, interleaved
		}
		m, err := trx.Create(ctx, coll)
		if err != nil {
			t.Fatal(err)
		}
		m.Set("n", i)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.lookups.Load(); got > 8 {
		t.Errorf("a commit of %d new entities in two collections looked them up %d times", entities, got)
	}
	for _, coll := range []string{"album", "artist"} {
		vs, err := n.Context(nil).Fetch(ctx, coll, "n >= 0")
		if err != nil || len(vs) != entities/2 {
			t.Fatalf("fetch of %s after the commit: %d, %v; want %d", coll, len(vs), err, entities/2)
		}
	}
}
