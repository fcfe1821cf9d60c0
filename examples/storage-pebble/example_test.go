package pebblekv_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	pebblekv "github.com/ankurah/ankurah-go/examples/storage-pebble"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	e, err := pebblekv.Open(ctx, dir, false)
	if err != nil {
		panic(err)
	}
	defer e.Close()

	ev := event.NewGenesis("album", map[string][]byte{"lww": {1}}, make([]byte, event.NonceSize), 1)
	err = e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: entity.State{
		ID: ev.Entity, Collection: "album", Head: event.NewClock(ev.ID()),
		Values: value.FieldsOf(map[string]value.Value{"name": value.String("Kind of Blue")}),
	}}}})
	if err != nil {
		panic(err)
	}
	albums, _ := e.Collection(ctx, "album")
	sel, _ := query.ParseBound("name LIKE 'Kind%'")
	states, _ := albums.FetchStates(ctx, sel)
	name, _ := states[0].Value("name").AsString()
	fmt.Println(len(states), name)
	// Output: 1 Kind of Blue
}
