package keyenc_test

import (
	"bytes"
	"fmt"

	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/value"
)

// An index key is the property name, the encoded value and the entity id;
// every key of one value lies in [prefix, PrefixEnd(prefix)).
func Example() {
	indexKey := func(prop string, v value.Value, entity byte) []byte {
		k := keyenc.AppendString(nil, prop)
		k = keyenc.Append(k, v)
		return append(k, entity)
	}
	one := indexKey("year", value.Int(1), 7)
	oneFloat := indexKey("year", value.Float(1.0), 9)
	two := indexKey("year", value.Float(1.5), 1)

	lo := keyenc.Append(keyenc.AppendString(nil, "year"), value.Int(1))
	hi := keyenc.PrefixEnd(lo)
	in := func(k []byte) bool { return bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0 }
	fmt.Println(in(one), in(oneFloat), in(two))
	fmt.Println(bytes.Compare(one, two) < 0)
	// Output:
	// true true false
	// true
}
