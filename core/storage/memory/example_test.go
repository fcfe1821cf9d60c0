package memory_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

func Example() {
	ctx := context.Background()
	e := memory.New()
	defer e.Close()

	// Store two albums, each created by a genesis event.
	var b storage.Batch
	for i, name := range []string{"Abbey Road", "Blue"} {
		ev := event.NewGenesis("album", map[string][]byte{"lww": []byte(name)}, make([]byte, event.NonceSize), int64(i))
		b.Events = append(b.Events, ev)
		b.States = append(b.States, storage.StateWrite{State: entity.State{
			ID:         ev.Entity,
			Collection: "album",
			Head:       event.NewClock(ev.ID()),
			Values:     value.FieldsOf(map[string]value.Value{"name": value.String(name), "year": value.Int(1969 + 2*int64(i))}),
		}})
	}
	if err := e.Apply(ctx, &b); err != nil {
		panic(err)
	}

	albums, _ := e.Collection(ctx, "album")
	sel, _ := query.ParseBound("year > ? ORDER BY year DESC", 1960)
	states, _ := albums.FetchStates(ctx, sel)
	for _, s := range states {
		fmt.Println(s.Value("name").Text(), s.Value("year").Text())
	}
	// Output:
	// 'Blue' 1971
	// 'Abbey Road' 1969
}

// Declaring an index lets FetchStates read candidates from it instead of
// scanning every state; Explain shows the plan. Answers are the same either way.
func ExampleEngine_Explain() {
	ctx := context.Background()
	e := memory.New()
	defer e.Close()
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		panic(err)
	}
	for _, q := range []string{"year = ?", "year > ? ORDER BY year DESC LIMIT 10", "name = ?"} {
		sel, _ := query.ParseBound(q, 1969)
		plan, _ := e.Explain(ctx, "album", sel)
		fmt.Printf("%s: %s\n", q, plan)
	}
	// Output:
	// year = ?: index "year", 1 ranges, forward
	// year > ? ORDER BY year DESC LIMIT 10: index "year", 1 ranges, reverse, serves the order
	// name = ?: full scan
}
