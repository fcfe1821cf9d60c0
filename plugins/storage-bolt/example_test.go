package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	e, err := bolt.Open(ctx, filepath.Join(dir, "ankurah.db"))
	if err != nil {
		panic(err)
	}
	defer e.Close()
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		panic(err)
	}

	// A node writes one batch per commit: the events, then the states they lead to.
	var batch storage.Batch
	for i, year := range []int64{1959, 1964, 1970} {
		ev := event.NewGenesis("album", map[string][]byte{"lww": {byte(i)}}, make([]byte, event.NonceSize), int64(i))
		batch.Events = append(batch.Events, ev)
		batch.States = append(batch.States, storage.StateWrite{State: entity.State{
			ID: ev.Entity, Collection: "album", Head: event.NewClock(ev.ID()),
			Values: value.FieldsOf(map[string]value.Value{"year": value.Int(year)}),
		}})
	}
	if err := e.Apply(ctx, &batch); err != nil {
		panic(err)
	}

	albums, _ := e.Collection(ctx, "album")
	sel, _ := query.ParseBound("year > ? ORDER BY year DESC LIMIT 5", 1960)
	plan, _ := e.Explain(ctx, "album", sel)
	states, err := albums.FetchStates(ctx, sel)
	if err != nil {
		panic(err)
	}
	fmt.Println(plan)
	for _, s := range states {
		fmt.Println(s.Value("year").Text())
	}
	// Output:
	// index "year", 1 ranges, reverse, serves the order
	// 1970
	// 1964
}

// Two handles on one open file, as two nodes of one process share it: a
// follower of one handle's change feed gets what the other commits.
func ExampleEngine_Share() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	a, err := bolt.Open(ctx, filepath.Join(dir, "ankurah.db"))
	if err != nil {
		panic(err)
	}
	defer a.Close()
	b, err := a.Share(ctx) // bolt.Open of the same file would fail: bbolt locks it
	if err != nil {
		panic(err)
	}
	defer b.Close()

	head, err := b.FeedHead(ctx)
	if err != nil {
		panic(err)
	}
	ev := event.NewGenesis("album", map[string][]byte{"lww": {1}}, make([]byte, event.NonceSize), 1)
	err = a.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: entity.State{
		ID: ev.Entity, Collection: "album", Head: event.NewClock(ev.ID()),
		Values: value.FieldsOf(map[string]value.Value{"year": value.Int(1959)}),
	}}}})
	if err != nil {
		panic(err)
	}

	stop := errors.New("stop")
	err = b.Follow(ctx, head, func(batch storage.FeedBatch) error {
		for _, c := range batch.Changes {
			fmt.Println(c.Collection, c.State.Value("year").Text())
		}
		return stop // a node keeps following; the example stops at one batch
	})
	fmt.Println(errors.Is(err, stop))
	// Output:
	// album 1959
	// true
}
