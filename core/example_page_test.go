package core_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// Walk a result two rows at a time: each page's Next continues after its
// last row, and a page shorter than its LIMIT is the last one.
func ExampleContext_FetchPage() {
	ctx := context.Background()
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	c := node.Context(nil)
	trx := c.Begin()
	for i, name := range []string{"Showbiz", "Origin of Symmetry", "Absolution", "Black Holes and Revelations", "The Resistance"} {
		m, _ := trx.Create(ctx, "album")
		m.Set("name", name)
		m.Set("year", 1999+2*i)
	}
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}

	after := ""
	for {
		page, err := c.FetchPage(ctx, "album", "year >= ? ORDER BY year LIMIT 2", after, 2000)
		if err != nil {
			panic(err)
		}
		for _, v := range page.Items {
			fmt.Print(v.Get("year").Text(), " ")
		}
		fmt.Println("|")
		if len(page.Items) < 2 {
			break
		}
		after = page.Next
	}
	// Output:
	// 2001 2003 |
	// 2005 2007 |
	// |
}
