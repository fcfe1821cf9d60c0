package core_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

func ExampleContext_Aggregate() {
	ctx := context.Background()
	node, _ := core.NewNode(ctx, memory.New(), policy.Permissive{})
	defer node.Close()
	c := node.Context(nil)

	byArtist, _ := c.Aggregate(ctx, "album", core.AggregateSpec{
		GroupBy: []string{"artist"},
		Aggs:    []core.Agg{core.MinOf("year"), core.MaxOf("year")},
	}, "true")
	defer byArtist.Close()
	count, _ := c.Count(ctx, "album", "year >= ?", 2000)
	defer count.Close()

	trx := c.Begin()
	for _, a := range []struct {
		name, artist string
		year         int
	}{{"Showbiz", "Muse", 1999}, {"Absolution", "Muse", 2003}, {"Kid A", "Radiohead", 2000}} {
		m, _ := trx.Create(ctx, "album")
		m.Set("name", a.name)
		m.Set("artist", a.artist)
		m.Set("year", a.year)
	}
	trx.Commit(ctx)

	// Both are current as soon as the commit returns.
	fmt.Println("since 2000:", count.Count())
	for _, g := range byArtist.Groups() {
		fmt.Println(g.Key[0].Raw(), g.Count, g.Values[0].Text(), g.Values[1].Text())
	}
	// Output:
	// since 2000: 2
	// Muse 2 1999 2003
	// Radiohead 1 2000 2000
}
