package core_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// Artist is a model that albums refer to (the type parameter of core.Ref).
type Artist struct{ Name string }

// Declaring that album.artist refers to the artist collection makes the
// dotted path artist.name continue in the referenced artist.
func ExampleNode_DeclareRelations() {
	ctx := context.Background()
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	if err := node.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		panic(err)
	}
	c := node.Context(nil)

	trx := c.Begin()
	muse, _ := trx.Create(ctx, "artist")
	muse.Set("name", "Muse")
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	ref := core.RefTo[Artist](muse.ID())
	trx = c.Begin()
	for _, name := range []string{"Showbiz", "Absolution"} {
		m, _ := trx.Create(ctx, "album")
		m.Set("name", name)
		m.Set("artist", ref.Value()) // a ref field stores the artist's id
	}
	other, _ := trx.Create(ctx, "album")
	other.Set("name", "Blue")
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}

	albums, err := c.Fetch(ctx, "album", "artist.name = ? ORDER BY name", "Muse")
	if err != nil {
		panic(err)
	}
	for _, a := range albums {
		fmt.Println(a.Get("name").Raw())
	}
	// Output:
	// Absolution
	// Showbiz
}

// A fetch with includes: the albums, and the artists they refer to and
// each artist's albums (forward and reverse), read once.
func ExampleContext_FetchIncluding() {
	ctx := context.Background()
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	if err := node.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		panic(err)
	}
	c := node.Context(nil)
	trx := c.Begin()
	muse, _ := trx.Create(ctx, "artist")
	muse.Set("name", "Muse")
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	trx = c.Begin()
	for _, name := range []string{"Showbiz", "Absolution"} {
		m, _ := trx.Create(ctx, "album")
		m.Set("name", name)
		m.Set("artist", core.RefTo[Artist](muse.ID()).Value())
	}
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}

	res, err := c.FetchIncluding(ctx, "album", "name = ?", "Showbiz", core.Include("artist"))
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res.Items), "album by", res.Included["artist"][0].Get("name").Raw())
	res, err = c.FetchIncluding(ctx, "artist", "true", core.IncludeReverse("albums", "album.artist"))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Items[0].Get("name").Raw(), "made", len(res.Included["albums"]), "albums")
	// Output:
	// 1 album by Muse
	// Muse made 2 albums
}
