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

// A change of an included entity is offered only to the live queries that
// include it: with 200 live queries each including the artist of its own
// album (forward) and 200 including the albums of their own artist
// (reverse), renaming one artist and retitling one album are offered to
// one live query each, not to all 400.
func TestIncIndex_ChangeIsOfferedOnlyToTheQueriesIncludingIt(t *testing.T) {
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
	write := func(coll string, eid *id.EntityID, props map[string]any) id.EntityID {
		trx := c.Begin()
		var m *Mut
		var err error
		if eid == nil {
			m, err = trx.Create(ctx, coll)
		} else {
			m, err = trx.Edit(ctx, coll, *eid)
		}
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
	const queries = 200
	var artists, albums []id.EntityID
	for i := range queries {
		a := write("artist", nil, map[string]any{"name": fmt.Sprint("n", i)})
		artists = append(artists, a)
		albums = append(albums, write("album", nil, map[string]any{"title": fmt.Sprint("t", i), "artist": value.Ref(a)}))
	}
	for i := range queries {
		fwd, err := c.Query(ctx, "album", "title = ?", fmt.Sprint("t", i), Include("artist"))
		if err != nil {
			t.Fatal(err)
		}
		defer fwd.Close()
		rev, err := c.Query(ctx, "artist", "name = ?", fmt.Sprint("n", i), IncludeReverse("albums", "album.artist"))
		if err != nil {
			t.Fatal(err)
		}
		defer rev.Close()
		if len(fwd.Included("artist")) != 1 || len(rev.Included("albums")) != 1 {
			t.Fatalf("query %d includes %d artists and %d albums, want 1 each", i, len(fwd.Included("artist")), len(rev.Included("albums")))
		}
	}
	offered := func() uint64 {
		x := &n.reactor.inc
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.offered
	}
	before := offered()
	write("artist", &artists[7], map[string]any{"country": "UK"}) // included by forward query 7
	write("album", &albums[9], map[string]any{"year": 2001})      // included by reverse query 9
	if got := offered() - before; got != 2 {
		t.Fatalf("two changes were offered to %d live queries' includes, want 2", got)
	}
}
