package storageplugin_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// A host opens a plugin binary (here the memory engine, built with
// `go build ./cmd/ankurah-storage-memory`) and uses it like any engine,
// errors included.
func ExampleOpen() {
	ctx := context.Background()
	e, err := storageplugin.Open(ctx, bins["ankurah-storage-memory"])
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	ev, st := created("album", "kind of blue", map[string]value.Value{"year": value.Int(1959)})
	if err := e.Apply(ctx, createBatch(ev, st)); err != nil {
		log.Fatal(err)
	}
	albums, err := e.Collection(ctx, "album")
	if err != nil {
		log.Fatal(err)
	}
	sel, err := query.ParseBound("year < ?", 1960)
	if err != nil {
		log.Fatal(err)
	}
	found, err := albums.FetchStates(ctx, sel)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(found), found[0].Value("year").Text())

	_, err = albums.GetState(ctx, id.EntityID{1})
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	// Output:
	// 1 1959
	// true
}
