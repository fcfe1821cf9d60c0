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
	album := value.FieldsOf(map[string]value.Value{
		"name":   value.String("Blue in Green"),
		"artist": value.String("Miles Davis"),
		"year":   value.Int(1959),
	})
	ok, _ := prog.Match(album)
	fmt.Println(sel)
	fmt.Println(bound)
	fmt.Println(ok)

	album = album.With("year", value.Int(1961))
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

func ExampleParse() {
	sel, err := query.Parse(`5 < year and meta."first name" LIKE 'A%' order by year desc`)
	if err != nil {
		panic(err)
	}
	fmt.Println(sel) // canonical text
	fmt.Println(sel.Placeholders, sel.Limit)
	// Output:
	// year > 5 AND meta."first name" LIKE 'A%' ORDER BY year DESC
	// 0 -1
}

func ExampleSelection_Bind() {
	sel, _ := query.Parse("artist = ? AND year IN (?, ?)")
	bound, err := sel.Bind("Miles Davis", 1959, 1960)
	fmt.Println(bound, err)
	_, err = sel.Bind("Miles Davis")
	fmt.Println(err)
	// Output:
	// artist = 'Miles Davis' AND year IN (1959, 1960) <nil>
	// query: bind error: the query has 3 placeholders but 1 arguments were given
}

func ExampleCompile() {
	bound, _ := query.ParseBound("year = ?", "1959")
	_, err := query.Compile(bound, query.Schema{"year": value.KindInt})
	fmt.Println(err)
	// Output:
	// query: type error: year is int, compared with string '1959'
}

func ExampleConjuncts() {
	sel, _ := query.Parse("year > 1950 AND (artist = 'x' OR artist = 'y') AND name LIKE 'Kind%'")
	for _, c := range query.Conjuncts(sel.Where) {
		fmt.Println(query.ExprString(c))
	}
	fmt.Println(query.LikePrefix("Kind%"))
	// Output:
	// year > 1950
	// artist = 'x' OR artist = 'y'
	// name LIKE 'Kind%'
	// Kind false
}
