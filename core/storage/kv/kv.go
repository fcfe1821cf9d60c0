// Package kv turns an ordered, transactional key-value store into a complete
// storage.Engine. An adapter implements Store (get, set, delete, ordered
// scans both ways, atomic read-write transactions) in about a hundred lines;
// New does the rest: expected-head checks, duplicate events, entity→event
// links, declared indexes kept current on every write and backfilled when
// declared late, index scans over several spans in either direction that stop
// after a LIMIT's tie group (planned by storage/indexplan), bad-row skipping,
// and the optional storage powers (Indexer, CollectionLooker, Repairer,
// Clearer).
//
// # Key layout
//
// Every key starts with the engine's prefix (WithKeyPrefix), then a tag byte:
//
//	'v'                                   -> format version (decimal text)
//	's' coll entity                       -> entity.State (canonical CBOR)
//	'e' coll event                        -> event.Event (canonical CBOR)
//	'h' coll entity event                 -> 0x01: a non-genesis event of the entity
//	'x' coll prop                         -> index declaration: 'b' (building) or 'r' (ready), then prop
//	'i' coll prop keyenc(value) entity    -> 0x01: an index entry (the value's encoding
//	                                         cut at MaxIndexedValue bytes)
//	'u'                                   -> the change log's identity (WithChangeFeed)
//	'c' seq                               -> one committed batch's states (WithChangeFeed)
//
// coll and prop are keyenc.AppendString names (escaped and terminated), so no
// collection's keys run into another's; entity and event are the 32 id bytes,
// so states scan in entity-id order. A genesis event needs no link: its id is
// its entity's id. A missing property is indexed as NULL, so every index holds
// every entity of its collection and can serve an ORDER BY alone. No value is
// ever empty (some stores refuse empty values).
//
// Format 1 (storage-tikv before this package) also linked genesis events; it
// reads as format 2 and is stamped 2 when first opened, so engines of older
// releases then refuse it rather than miss those events.
package kv

import "context"

// Store is an ordered, transactional key-value store: what an adapter
// implements. Keys are compared as bytes. Implementations must be safe for
// concurrent use.
type Store interface {
	// View runs fn on a consistent read-only snapshot of the store.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a read-write transaction and commits its writes
	// atomically if fn returns nil; an error from fn discards them and is
	// returned as is. Two transactions that write a key the other read or
	// wrote must not both commit as if alone (snapshot isolation with
	// write-write conflict detection is enough: the engine writes every key
	// whose stored value it relies on). Update may run fn again after a
	// conflict; fn has no other effects.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the store. The engine calls it once, after its last use.
	Close() error
}

// Reader reads a snapshot or a transaction. Slices it hands out are valid
// only until the call (or the callback) returns.
type Reader interface {
	// Get returns the value stored under key, or nil when there is none.
	Get(ctx context.Context, key []byte) ([]byte, error)
	// Scan calls f with each key in [lo, hi) and its value, in ascending key
	// order, or descending when reverse, until f returns true (stop) or an
	// error (returned as is). A nil hi has no upper bound.
	Scan(ctx context.Context, lo, hi []byte, reverse bool, f func(k, v []byte) (stop bool, err error)) error
}

// Tx is a read-write transaction. Its reads need not see its own writes: the
// engine never reads a key it wrote in the same transaction, and never
// writes from inside a Scan callback.
type Tx interface {
	Reader
	// Set stores value (never empty) under key.
	Set(key, value []byte) error
	// Delete removes key; deleting a key that is not stored is not an error.
	Delete(key []byte) error
}

// MultiGetter is a Reader that reads many keys in one round trip (TiKV's
// BatchGet). The engine uses it, when a Reader has it, for the keys of a
// batch and for index candidates; vals[i] is nil when keys[i] is not stored.
type MultiGetter interface {
	GetMany(ctx context.Context, keys [][]byte) (vals [][]byte, err error)
}
