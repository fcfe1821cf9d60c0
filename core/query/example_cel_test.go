//go:build !js

package query_test

import (
	"fmt"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// The portable form of a predicate is checked CEL plus the paths and
// operands it reads; compiled from the protobuf alone it answers as the
// node does.
func ExamplePortableCEL() {
	b, err := query.ParseBound("year > ? AND name IN ('A', 'B')", 2000)
	if err != nil {
		panic(err)
	}
	form, err := query.PortableCEL(b, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(form.Paths, len(form.Args), form.Args[1].IsList)
	prog, err := form.Program()
	if err != nil {
		panic(err)
	}
	ok, _ := prog.Match(value.FieldsOf(map[string]value.Value{"year": value.Int(2001), "name": value.String("B")}))
	fmt.Println(ok)
	// Output:
	// [year name] 2 true
	// true
}
