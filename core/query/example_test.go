package query_test

import (
	"fmt"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

func Example() {
	sel, err := query.Parse(`year > ? AND artist = ? AND name LIKE 'Blue%' ORDER BY year DESC LIMIT 10`)
	if err != nil {
		panic(err)
	}
	bound, err := sel.Bind(1960, "Miles Davis")
	if err != nil {
		panic(err)
	}
	prog, err := query.Compile(bound, query.Schema{"year": value.KindInt})
	if err != nil {
		panic(err)
	}
	album := map[string]value.Value{
		"name":   value.String("Blue in Green"),
		"artist": value.String("Miles Davis"),
		"year":   value.Int(1959),
	}
	ok, _ := prog.Match(album)
	fmt.Println(sel)
	fmt.Println(bound)
	fmt.Println(ok)

	album["year"] = value.Int(1961)
	ok, _ = prog.Match(album)
	fmt.Println(ok)

	_, err = query.Parse("year > 5 LIMT 3")
	fmt.Println(err)
	// Output:
	// year > ? AND artist = ? AND name LIKE 'Blue%' ORDER BY year DESC LIMIT 10
	// year > 1960 AND artist = 'Miles Davis' AND name LIKE 'Blue%' ORDER BY year DESC LIMIT 10
	// false
	// true
	// query: syntax error at 10: unexpected "LIMT", expected AND, OR, ORDER BY, LIMIT or end of query
}
