package core_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// Undo of a delete: Restore brings the entity back with its id and values.
func ExampleTransaction_Restore() {
	ctx := context.Background()
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	c := node.Context(nil)

	trx := c.Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Drones")
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	eid := m.ID()

	trx = c.Begin()
	trx.Delete(ctx, "album", eid)
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	_, err = c.Get(ctx, "album", eid)
	fmt.Println("after the delete:", err != nil)

	trx = c.Begin()
	if _, err := trx.Restore(ctx, "album", eid); err != nil {
		panic(err)
	}
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	v, _ := c.Get(ctx, "album", eid)
	fmt.Println("after the restore:", v.Get("name").Raw(), v.ID() == eid)
	// Output:
	// after the delete: true
	// after the restore: Drones true
}
