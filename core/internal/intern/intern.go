// Package intern gives the short strings a node decodes over and over —
// collection, property and backend names, authors — without an allocation
// each time: a decoded name that was seen recently is returned as the
// string made the first time.
//
// The table is fixed (tableSize entries of at most maxLen bytes, a few tens
// of KB at most), safe for concurrent use, and lossy: a name whose slot
// another name took is made again and takes the slot back. A peer sending
// many distinct names only makes lookups miss; the table never grows.
package intern

import (
	"hash/maphash"
	"sync/atomic"
)

const (
	tableSize = 1024 // slots; a power of two
	maxLen    = 64   // longer strings are made each time
)

var (
	seed  = maphash.MakeSeed()
	table [tableSize]atomic.Pointer[string]
)

// String returns string(b), the same string as an earlier call with the
// same bytes when that one's slot still holds it.
func String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxLen {
		return string(b)
	}
	slot := &table[maphash.Bytes(seed, b)&(tableSize-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}
