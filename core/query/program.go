package query

import (
	"github.com/ankurah/ankurah-go/core/value"
)

// Program is a compiled predicate. Both evaluators (CEL and the interpreter)
// implement it and must agree on every input. A Program is safe for
// concurrent use.
type Program interface {
	// Match reports whether the entity with the given materialized property
	// values satisfies the predicate (only true matches: false and unknown
	// do not).
	Match(values value.Fields) (bool, error)
}

// Schema declares the types of properties, when known. Compile uses it to
// reject comparisons that can never be true. A nil Schema declares nothing.
type Schema map[string]value.Kind

// Resolve returns the value a path names in a property map: the property,
// then the JSON path into it. Anything missing is NULL.
func Resolve(values value.Fields, p Path) value.Value {
	v := values.Get(p[0])
	if len(p) == 1 {
		return v
	}
	return v.Path(p[1:])
}
