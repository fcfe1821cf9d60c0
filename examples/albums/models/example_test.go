package models_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/examples/albums/models"
)

// A typed live query hears of every commit that changes its result set;
// Edit and the typed field handles change an album in a transaction.
func ExampleAlbumCollection_Query() {
	ctx := context.Background()
	node := must(core.NewNode(context.Background(), memory.New(), policy.Permissive{}))
	defer node.Close()
	c := node.Context(nil)

	lq := must(models.Albums.Query(ctx, c, "artist = ? ORDER BY year", "Muse"))
	defer lq.Close()
	changes := make(chan models.AlbumChangeSet, 4)
	lq.Subscribe(func(cs models.AlbumChangeSet) { changes <- cs })
	<-changes // the initial result set: empty

	trx := c.Begin()
	album := must(models.Albums.Create(ctx, trx, models.Album{Name: "Absolution", Artist: "Muse", Year: 2003}))
	check(trx.Commit(ctx))
	cs := <-changes
	fmt.Println(cs.Changes[0].Kind, cs.Changes[0].Entity.Name(), cs.Changes[0].Entity.Year())

	trx = c.Begin()
	m := must(models.Albums.Edit(ctx, trx, album.ID()))
	check(m.Year().Set(m.Year().Get() + 1))
	check(trx.Commit(ctx))
	cs = <-changes
	fmt.Println(cs.Changes[0].Kind, cs.Changes[0].Entity.Name(), cs.Changes[0].Entity.Year())
	// Output:
	// Add Absolution 2003
	// Update Absolution 2004
}

func must[T any](v T, err error) T {
	check(err)
	return v
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
