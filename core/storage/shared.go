package storage

import (
	"context"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
)

// The contract's Apply copies what it keeps and its reads return copies, so
// a caller may scribble on either side. An in-process engine that keeps
// states as Go values pays for that twice per state (the maps and byte
// slices of Head, Backends and Values); the node never modifies a state in
// place (it builds new maps for a new state), so it can hand its states
// over and read the engine's without the copies: Batch.Handover and
// SharedReader say so. An engine that encodes what it stores has no copy to
// save, ignores Handover and does not implement SharedReader.

// SharedReader is a Collection that can return its stored states without
// copying them.
type SharedReader interface {
	// GetStateShared is GetState, except that the state returned may share
	// its Head, Backends and Values with the engine's: the caller reads it
	// and never modifies it (nor lets anyone else).
	GetStateShared(ctx context.Context, id id.EntityID) (entity.State, error)
	// FetchStatesShared is FetchStates with the states shared as by
	// GetStateShared.
	FetchStatesShared(ctx context.Context, sel *query.Bound) ([]entity.State, error)
}

// ManyReader is a Collection that reads the stored states of many entities
// in one step (one read transaction, one lock) rather than a GetState each:
// a commit of thousands of entities looks every one of them up.
type ManyReader interface {
	// GetStatesShared returns the stored state of each of ids, in the order
	// of ids; an entity that is not stored gives a zero State (its ID is
	// zero). The states may share their Head, Backends and Values with the
	// engine's, as GetStateShared's: the caller reads them and never
	// modifies them. An error is the read's, or a stored state that does
	// not decode.
	GetStatesShared(ctx context.Context, ids []id.EntityID) ([]entity.State, error)
}
