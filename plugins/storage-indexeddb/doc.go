// Package indexeddb is the browser's storage engine: a storage.Engine on
// IndexedDB for the GOOS=js GOARCH=wasm build (the engine itself builds only
// there; the query planner builds everywhere so it is tested natively too).
//
// The database has a fixed set of object stores, created once at version 1,
// so a new collection or property never needs a schema upgrade (which other
// open tabs would block):
//
//	states         [collection, entity id]                        -> CBOR state
//	events         [collection, event id]                         -> CBOR event
//	entity_events  [collection, entity id, event id]              -> 0
//	index          [collection, property, keyenc value, entity id] -> 0
//	indexes        [collection, property]                         -> 0 (declared indexes)
//	meta           "format"                                       -> format version
//
// Ids and encoded values are binary keys (Uint8Array), which IndexedDB
// orders bytewise, so the index store's order is keyenc's order, which is
// the order of value.Compare. A declared index holds one entry per entity
// (NULL for a missing property), so a scan of it visits every entity.
//
// FetchStates pushes down what an index serves — equality, IN and ranges on
// an indexed property, and ORDER BY on an indexed property with a LIMIT,
// walked with a cursor (forward or reverse) that stops once the limit is
// reached — and finishes with storage.Residual, so pushdown never changes
// an answer. Apply runs in one readwrite IndexedDB transaction: the
// expected-head check happens inside it, and a conflict aborts it.
//
// Go never blocks inside a JS callback: callbacks only hand results to
// channels that the calling goroutine waits on.
//
// A stored state or event that does not decode (written by an older build)
// never makes a collection unreadable: reads skip it and report it through
// storage.ReportBadRow, GetState of it is storage.ErrFormat, and Clear drops
// it with the rest of the cache. The Engine is a storage.CollectionLooker: a
// collection exists once it holds a state, an event or a declared index.
package indexeddb
