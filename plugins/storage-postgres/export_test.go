package postgres

import (
	"context"
	"time"
)

// PruneFeed deletes the feed's rows older than keep now (tests only).
func PruneFeed(ctx context.Context, e *Engine, keep time.Duration) (int64, error) {
	return e.pruneFeed(ctx, keep)
}

// SetFeedWrites turns the feed row of every Apply on or off, and
// SetFeedNotify its NOTIFY (benchmarks only: an engine that writes no feed
// rows leaves its followers, and every other engine's, behind).
func SetFeedWrites(e *Engine, on bool) { e.feedOff.Store(!on) }

// SetFeedNotify turns the NOTIFY of every Apply on or off (benchmarks only).
func SetFeedNotify(e *Engine, on bool) { e.feedNotify.Store(on) }

// JoinFetches is how many traversals the engine evaluated as joins.
func JoinFetches(e *Engine) int64 { return e.joinFetches.Load() }
