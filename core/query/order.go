package query

import (
	"bytes"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// CompareRows orders two entities by an ORDER BY list: each term by the total
// order of values (DESC reverses it, so NULLs come last), ties by ascending
// entity-id bytes. Without terms the order is by entity id alone.
func CompareRows(order []Order, a value.Fields, aID id.EntityID, b value.Fields, bID id.EntityID) int {
	for _, o := range order {
		c := value.Compare(Resolve(a, o.Path), Resolve(b, o.Path))
		if o.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return bytes.Compare(aID[:], bID[:])
}
