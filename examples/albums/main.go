// Command albums stores a few albums in an embedded bolt file through the
// typed API ankurah-gen writes for the Album model, then queries them.
//
//	go run . [file.db]
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/examples/albums/models"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

func main() {
	path := "albums.db"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := run(context.Background(), os.Stdout, path); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, w io.Writer, path string) error {
	engine, err := bolt.Open(ctx, path)
	if err != nil {
		return err
	}
	defer engine.Close()
	if err := models.Albums.DeclareIndexes(ctx, engine); err != nil {
		return err
	}
	node, err := core.NewNode(ctx, engine, policy.Permissive{})
	if err != nil {
		return err
	}
	defer node.Close()
	c := node.Context(nil)

	existing, err := models.Albums.Fetch(ctx, c, "true LIMIT 1")
	if err != nil {
		return err
	}
	if len(existing) == 0 { // a new file: store a few albums in one transaction
		trx := c.Begin()
		for _, a := range []models.Album{
			{Name: "OK Computer", Artist: "Radiohead", Year: 1997},
			{Name: "In Rainbows", Artist: "Radiohead", Year: 2007},
			{Name: "Origin of Symmetry", Artist: "Muse", Year: 2001},
		} {
			if _, err := models.Albums.Create(ctx, trx, a); err != nil {
				return err
			}
		}
		if err := trx.Commit(ctx); err != nil {
			return err
		}
	}

	albums, err := models.Albums.Fetch(ctx, c, "year > ? ORDER BY year", 2000)
	if err != nil {
		return err
	}
	for _, a := range albums {
		fmt.Fprintf(w, "%d  %s (%s)\n", a.Year(), a.Name(), a.Artist())
	}
	return nil
}
