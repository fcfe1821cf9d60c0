package core

import (
	"context"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// A change of a referenced entity is offered only to the traversal terms
// its old or new value can satisfy: with many live queries `artist.name =
// ?` on distinct names, renaming one artist costs the two terms of its old
// and new name, not one per live query.
func TestRefIndex_ChangeIsOfferedToTheTermsItsValuesTouch(t *testing.T) {
	ctx := context.Background()
	n, err := NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.DeclareRelations(Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		t.Fatal(err)
	}
	c := n.Context(nil)
	create := func(coll string, props map[string]any) id.EntityID {
		trx := c.Begin()
		m, err := trx.Create(ctx, coll)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range props {
			if err := m.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := trx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return m.ID()
	}
	rename := func(eid id.EntityID, name string) {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "artist", eid)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Set("name", name); err != nil {
			t.Fatal(err)
		}
		if err := trx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const queries = 200
	artist := create("artist", map[string]any{"name": "n3"})
	create("album", map[string]any{"artist": value.Ref(artist)})
	for i := range queries {
		lq, err := c.Query(ctx, "album", "artist.name = ?", fmt.Sprintf("n%d", i))
		if err != nil {
			t.Fatal(err)
		}
		defer lq.Close()
	}
	offered := func() uint64 {
		n.reactor.refs.mu.Lock()
		defer n.reactor.refs.mu.Unlock()
		return n.reactor.refs.offered
	}
	before := offered()
	rename(artist, "n4")
	if got := offered() - before; got != 2 {
		t.Fatalf("renaming n3 to n4 was offered to %d terms, want 2 (of %d live queries)", got, queries)
	}
	before = offered()
	rename(artist, "nobody")
	rename(artist, "still nobody")
	if got := offered() - before; got != 1 {
		t.Fatalf("renames to names no query reads were offered to %d terms, want 1 (leaving n4)", got)
	}
}
