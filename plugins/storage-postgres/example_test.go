package postgres_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
)

// Open an engine on a database, declare an index, and query a collection.
// (Not run by go test: it needs a database at that URL.)
func ExampleOpen() {
	ctx := context.Background()
	e, err := postgres.Open(ctx, "postgres://app@localhost:5432/app", postgres.WithSchema("ankurah"))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		log.Fatal(err)
	}
	albums, err := e.Collection(ctx, "album")
	if err != nil {
		log.Fatal(err)
	}
	sel, err := query.ParseBound("year > ? ORDER BY year DESC LIMIT 10", 2000)
	if err != nil {
		log.Fatal(err)
	}
	states, err := albums.FetchStates(ctx, sel) // one parameterized SELECT
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range states {
		fmt.Println(s.ID, s.Value("name").Text())
	}
}
