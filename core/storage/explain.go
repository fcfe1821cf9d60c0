package storage

import (
	"context"

	"github.com/ankurah/ankurah-go/core/query"
)

// Explainer is an Engine that can describe how it would read a selection:
// which declared index FetchStates would scan, over how many ranges, in which
// direction, whether a LIMIT stops it early — or that it scans the whole
// collection. The text is for people (`ankurah explain`, logs, tests of an
// engine's planner), not for parsing; its form is the engine's own.
type Explainer interface {
	// Explain describes how FetchStates(sel) on collection would run, without
	// running it. A nil selection is ErrInvalid.
	Explain(ctx context.Context, collection string, sel *query.Bound) (string, error)
}
