package core_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// Two servers on one store (here two handles of one memory engine; in
// production several `ankurah serve` on one PostgreSQL): each follows the
// store's change feed, so a live query on one hears of a commit on the other.
func ExampleWithSharedStorage() {
	ctx := context.Background()
	e := memory.New()
	e2, _ := e.Share()
	defer e2.Close()
	a, _ := core.NewNode(ctx, e, policy.Permissive{}, core.WithSharedStorage())
	defer a.Close()
	b, _ := core.NewNode(ctx, e2, policy.Permissive{}, core.WithSharedStorage())
	defer b.Close()

	lq, _ := a.Context(nil).Query(ctx, "album", "year > ?", 2000)
	defer lq.Close()
	added := make(chan string, 1)
	lq.Subscribe(func(cs core.ChangeSet) {
		for _, ch := range cs.Changes {
			if ch.Kind == core.Add {
				name, _ := ch.Entity.Get("name").AsString()
				added <- name
			}
		}
	})
	trx := b.Context(nil).Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Drones")
	m.Set("year", 2015)
	if err := trx.Commit(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("added on a:", <-added)
	// Output: added on a: Drones
}
