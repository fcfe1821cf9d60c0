//go:build js && wasm

package indexeddb_test

import (
	"context"
	"log"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	indexeddb "github.com/ankurah/ankurah-go/plugins/storage-indexeddb"
)

// A browser client keeps its cache in IndexedDB: open the engine and give
// it to an ephemeral node (bindings/wasm does exactly this).
func ExampleOpen() {
	ctx := context.Background()
	engine, err := indexeddb.Open(ctx, "my-app")
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	node, err := core.NewNode(context.Background(), engine, policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	lq, err := node.Context(nil).Query(ctx, "album", "year > ? ORDER BY year LIMIT 10", 1985)
	if err != nil {
		log.Fatal(err)
	}
	defer lq.Close()
	log.Println(len(lq.Items()), "albums")
}
