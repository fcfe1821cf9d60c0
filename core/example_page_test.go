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

// A live page: the two rows after the first page's cursor, kept current.
// A row added behind the cursor never enters it; one added inside it
// pushes its last row out; Next continues after its current last row.
func ExampleAfter() {
	ctx := context.Background()
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	c := node.Context(nil)
	add := func(years ...int) {
		trx := c.Begin()
		for _, y := range years {
			m, _ := trx.Create(ctx, "album")
			m.Set("year", y)
		}
		if err := trx.Commit(ctx); err != nil {
			panic(err)
		}
	}
	show := func(lq *core.LiveQuery) {
		for _, v := range lq.Items() {
			fmt.Print(v.Get("year").Text(), " ")
		}
		fmt.Println("|")
	}
	add(1999, 2001, 2003, 2006, 2009)

	const q = "true ORDER BY year LIMIT 2"
	first, err := c.FetchPage(ctx, "album", q, "")
	if err != nil {
		panic(err)
	}
	page, err := c.Query(ctx, "album", q, core.After(first.Next))
	if err != nil {
		panic(err)
	}
	defer page.Close()
	show(page)
	add(2000) // behind the cursor (2001)
	show(page)
	add(2004) // inside the page
	show(page)
	rest, err := c.FetchPage(ctx, "album", q, page.Next())
	if err != nil {
		panic(err)
	}
	fmt.Println(len(rest.Items), "rows after the live page")
	// Output:
	// 2003 2006 |
	// 2003 2006 |
	// 2003 2004 |
	// 2 rows after the live page
}
