package kv_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
	"github.com/ankurah/ankurah-go/core/value"
)

// An engine on any ordered key-value store: implement kv.Store (here the
// package's own MemoryStore) and kv.New does the rest.
func Example() {
	ctx := context.Background()
	e, err := kv.New(ctx, kv.NewMemoryStore())
	if err != nil {
		panic(err)
	}
	defer e.Close()
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		panic(err)
	}

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
