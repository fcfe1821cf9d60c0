package storage

import (
	"context"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
)

// TraversalPath is one property path of a selection that follows references
// (`artist.label.country` on albums): the references it follows, in order,
// and what it reads in the last one's collection. A TraversalSelection's
// predicate reads the path's value as the property Key.
type TraversalPath struct {
	// Key is the property the selection's predicate reads the path's value
	// as (a name no stored property has).
	Key string
	// Hops are the references followed (1 to query.MaxTraversalDepth): the
	// property of the previous collection (the selection's own, first)
	// holding the reference, and the collection it leads to.
	Hops []query.Hop
	// Rest is the path read in the last hop's collection (one property, or
	// a property and a JSON path inside it).
	Rest query.Path
}

// TraversalSelection is a selection of one collection whose predicate
// reads the values at the end of reference paths.
//
// A path's value is NULL when a reference on it is NULL or not of kind ref,
// or names an entity that is not stored or does not satisfy Readable of its
// collection; otherwise it is the value Rest reads in the last entity. The
// predicate is then evaluated as any other, three-valued: `artist.name =
// 'Muse'` and its NOT are both unknown for an album whose artist is
// missing, and `artist.name IS NULL` is true.
type TraversalSelection struct {
	// Bound is the selection: its predicate reads each path as
	// Path{Key}; ORDER BY and LIMIT read the collection's own properties.
	Bound *query.Bound
	// Paths are the paths the predicate reads, one per Key.
	Paths []TraversalPath
	// Readable is, for each collection a hop leads to, the predicate an
	// entity of it must satisfy to be followed (the node gives the
	// caller's read filter and that it is not deleted; a literal false
	// when the caller may not read the collection at all). A collection
	// missing here is followed unfiltered.
	Readable map[string]query.Expr
}

// Traverser is a Collection that evaluates selections that follow
// references itself (PostgreSQL joins the referenced collections' tables),
// instead of the node resolving each traversal term to sets of referenced
// ids first (docs/relations.md).
//
// FetchTraversal returns, in sel.Bound's order (ties by ascending entity
// id) and limited to its LIMIT, every state of the collection the selection
// matches, deleted ones included as in FetchStates — and possibly states it
// could not decide (values the engine cannot compare exactly), which the
// node's exact program then drops: the node applies the exact selection,
// through the caller's reads and the agent's per-row check, to what comes
// back. It never leaves out a state that matches.
type Traverser interface {
	FetchTraversal(ctx context.Context, sel *TraversalSelection) ([]entity.State, error)
}
