package core_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// BenchmarkFetch_Traversal compares `artist.name = ?` on albums with the
// same question asked of a denormalized copy (`artist_name = ?` on each
// album), on the memory engine with indexes on album.artist, artist.name
// and album.artist_name: 10,000 albums by 1,000 artists, 10 albums each.
func BenchmarkFetch_Traversal(b *testing.B) {
	const artists, perArtist = 1000, 10
	ctx := context.Background()
	engine := memory.New()
	for _, ix := range []storage.Index{{Collection: "album", Property: "artist"}, {Collection: "artist", Property: "name"}, {Collection: "album", Property: "artist_name"}} {
		if err := engine.DeclareIndex(ctx, ix); err != nil {
			b.Fatal(err)
		}
	}
	n, err := core.NewNode(ctx, engine, policy.Permissive{})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if err := n.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		b.Fatal(err)
	}
	c := n.Context(nil)
	ids := make([]id.EntityID, artists)
	trx := c.Begin()
	var muts []*core.Mut
	for i := range artists {
		m, _ := trx.Create(ctx, "artist")
		m.Set("name", fmt.Sprintf("artist %d", i))
		muts = append(muts, m)
	}
	if err := trx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	for i, m := range muts {
		ids[i] = m.ID()
	}
	trx = c.Begin()
	for i := range artists * perArtist {
		m, _ := trx.Create(ctx, "album")
		m.Set("title", fmt.Sprintf("album %d", i))
		m.Set("artist", value.Ref(ids[i%artists]))
		m.Set("artist_name", fmt.Sprintf("artist %d", i%artists))
	}
	if err := trx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, q string }{
		{"Traversal", "artist.name = ?"},
		{"Denormalized", "artist_name = ?"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				vs, err := c.Fetch(ctx, "album", bc.q, fmt.Sprintf("artist %d", i%artists))
				if err != nil || len(vs) != perArtist {
					b.Fatalf("%d albums, %v", len(vs), err)
				}
			}
		})
	}
}
