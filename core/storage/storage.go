// Package storage defines the contract every storage engine implements (in
// process, out of process, in the browser) and the helpers engines share.
//
// An Engine is a set of named collections of entity states and events. The
// node writes through Apply, one atomic batch per commit; it reads through a
// Collection. Optional powers are separate interfaces discovered by type
// assertion: Indexer (declared indexes), CollectionLooker and
// CollectionLister (finding and listing collections; `ankurah dump` walks a
// store with them, and `ankurah load` writes a dump back through Apply),
// Clearer and KeepingClearer, Repairer (bad rows), Explainer (how a fetch
// would read), ChangeFeed (every committed change, resumable, across the
// processes sharing a store), Healther (whether the engine can serve now),
// and on a Collection, Aggregator (aggregates computed by the engine),
// Traverser (selections that follow references evaluated by the
// engine, as joins in SQL) and SharedReader (stored states read without
// copies).
//
// docs/writing-a-storage-engine.md walks through writing an engine, the
// contract's edge cases included; conformance/storagetest checks them.
package storage

import (
	"context"
	"errors"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
)

// Errors every engine reports, wrapped with detail and tested with errors.Is.
var (
	// ErrNotFound: no state for that entity in that collection.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a state's stored head is not the batch's expected head;
	// nothing of the batch was written.
	ErrConflict = errors.New("storage: conflict")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("storage: closed")
	// ErrInvalid: a batch, name or selection the engine cannot accept.
	ErrInvalid = errors.New("storage: invalid")
	// ErrFormat: stored data in a format this engine does not understand (a
	// newer format version, or not this engine's data at all).
	ErrFormat = errors.New("storage: unsupported format")
)

// Engine is a storage backend.
type Engine interface {
	// Collection opens a collection, creating it if needed.
	Collection(ctx context.Context, name string) (Collection, error)
	// Apply writes a batch atomically across collections: its events
	// (an event already stored is a no-op), then its states. If any state's
	// stored head differs from its expected head, Apply writes nothing and
	// returns an error wrapping ErrConflict.
	Apply(ctx context.Context, b *Batch) error
	// Close releases the engine. Later calls, a second Close included,
	// fail with ErrClosed.
	Close() error
}

// Collection reads one collection.
type Collection interface {
	// Name returns the collection's name.
	Name() string
	// GetState returns the stored state of an entity, or ErrNotFound.
	GetState(ctx context.Context, id id.EntityID) (entity.State, error)
	// FetchStates returns exactly the states matching sel, in sel's order
	// (ties and unordered results by ascending entity-id bytes), limited to
	// sel.Limit. Deleted entities are included; the node filters them.
	FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error)
	// GetEvents returns the stored events among ids, in any order; missing
	// ids are omitted (no error). An id given twice may come back once or
	// twice.
	GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error)
	// EntityEvents returns every stored event of an entity once, its genesis
	// included, in no particular order.
	EntityEvents(ctx context.Context, id id.EntityID) ([]event.Event, error)
}

// Batch is what one commit writes. On a durable node a state's head events
// are stored no later than the state (the same batch or an earlier one), and
// the node relies on it: an event made on an entity's current head is
// admitted without looking its parents up. (An ephemeral node stores states
// its durable peer sent without their events; it never admits events this
// way.)
type Batch struct {
	Events []event.Event
	States []StateWrite
	// Handover says the caller hands the states and events over: the
	// engine may keep each state's Head, Backends and Values and each
	// event's Parent, Operations and Nonce (the slices, maps and bytes) as
	// they are instead of copies, because from Apply on neither the caller
	// nor anyone it shares them with modifies them (they may still read
	// them). The engine does not modify them either. An engine that
	// encodes what it stores ignores it.
	Handover bool
}

// StateWrite is one state to store, valid only if the stored head equals
// Expected (an empty Expected means the entity must not be stored yet).
type StateWrite struct {
	State    entity.State
	Expected event.Clock
}

// Index declares a secondary index on a property of a collection.
type Index struct {
	Collection string
	Property   string
}

// Indexer is an Engine that can maintain declared secondary indexes.
type Indexer interface {
	DeclareIndex(ctx context.Context, ix Index) error
}

// Clearer is an Engine that can drop everything it stores. Ephemeral nodes
// use it to drop their cache when they meet a durable peer of a different
// system than before.
type Clearer interface {
	Clear(ctx context.Context) error
}

// KeepingClearer is a Clearer that can drop everything but some collections,
// leaving the kept collections' states and events untouched (an ephemeral
// node keeps its outbox of unsent commits, so that a crash while the
// cache is dropped loses none of them). An engine that clears in several
// transactions still never deletes a kept collection's rows, so a crash part
// way leaves them whole.
type KeepingClearer interface {
	Clearer
	// ClearKeeping drops every collection's states, events and index
	// entries except those of the named collections.
	ClearKeeping(ctx context.Context, keep ...string) error
}

// CollectionLooker is an Engine that can open a collection only if it
// exists. The node reads through it, so a read naming an unknown collection
// finds nothing and creates nothing; engines without it are asked for
// Collection, which may create.
type CollectionLooker interface {
	// LookupCollection opens an existing collection, or returns an error
	// wrapping ErrNotFound when there is none of that name.
	LookupCollection(ctx context.Context, name string) (Collection, error)
}

// BadRow is a stored row an engine could not decode: a state or event written
// by an older build, or damaged on disk. Scans skip it (reporting it through
// ReportBadRow) so one bad row never makes a collection unreadable.
type BadRow struct {
	Collection string
	// Kind is "state" or "event".
	Kind string
	// Key is the row's key in the engine's own terms (the entity or event id
	// for every engine of this repository).
	Key []byte
	// Err is why it could not be decoded.
	Err error
}

// Repairer is an Engine with an administrator's path to undecodable rows:
// listing them and removing one. `ankurah admin bad-rows` and `ankurah admin
// remove-row` use it on a server's data directory.
type Repairer interface {
	// BadRows calls f for every undecodable row of a collection (an error
	// from f stops it and is returned). A collection that does not exist is
	// ErrNotFound.
	BadRows(ctx context.Context, collection string, f func(BadRow) error) error
	// RemoveRow deletes one row ("state" or "event", by key) and whatever
	// index entries refer to it. It succeeds whether the row decodes or not;
	// removing a row that is not there is ErrNotFound, another kind is
	// ErrInvalid. Removing a state leaves the entity's events (each is a row
	// of its own).
	RemoveRow(ctx context.Context, collection, kind string, key []byte) error
}
