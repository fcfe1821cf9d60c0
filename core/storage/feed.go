package storage

import (
	"context"
	"errors"

	"github.com/ankurah/ankurah-go/core/entity"
)

// ErrFeedGap: a change feed cannot resume from the token it was given (the
// changes after it were cleaned up, or the token belongs to another store).
// A follower that meets it must treat everything it derived from the feed as
// stale (the node re-reads every live query) and follow again from FeedHead.
var ErrFeedGap = errors.New("storage: change feed cannot resume from token")

// FeedToken is an opaque, engine-defined position in a change feed: the
// point just after one committed batch. Tokens survive restarts of the
// process and the engine (a server stores its last token to resume), are
// compared only by the engine that made them, and are at most 1 KiB.
type FeedToken []byte

// FeedChange is one entity state a committed batch wrote.
type FeedChange struct {
	Collection string
	// State is the entity's stored state after the batch (a deleted entity's
	// state has its deleted flag set).
	State entity.State
}

// FeedBatch is what one Apply committed, as a change feed reports it.
type FeedBatch struct {
	// Changes are the batch's states, in the batch's order.
	Changes []FeedChange
	// Token resumes the feed just after this batch.
	Token FeedToken
}

// ChangeFeed is an Engine whose committed batches can be followed — every
// batch committed through any handle of the same store, by this process or
// any other that shares the database. The node follows its engine's feed, so
// live queries and subscribed peers on every server sharing a database hear
// of every commit. Engines without a feed work for one server per store.
//
// The contract, which conformance/storagetest checks for every engine that
// declares it:
//   - every committed batch is delivered exactly once, whole (never split or
//     merged with another), and a batch that failed (ErrConflict or any other
//     error) never;
//   - batches that wrote the same entity are delivered in the order they
//     committed, and a follower resumed from a batch's token receives the
//     batches after it, without a gap, even when transactions commit in a
//     different order than they began or were numbered;
//   - a slow follower costs bounded memory in the engine: the engine reads
//     ahead at most a bounded amount, and changes it no longer keeps make
//     Follow fail with ErrFeedGap rather than skip them silently.
type ChangeFeed interface {
	// FeedHead returns the token of the latest batch committed so far (a
	// follower from it receives exactly the batches committed after this
	// call returned, and possibly ones committing concurrently with it).
	FeedHead(ctx context.Context) (FeedToken, error)
	// Follow calls f with every batch committed after token, in order, on the
	// caller's goroutine, waiting for new batches as they commit. It returns
	// ctx's error when ctx ends, f's error when f returns one, an error
	// wrapping ErrFeedGap when it cannot resume from token, or ErrClosed when
	// the engine closes. The batch is f's to keep (the engine does not reuse
	// its slices).
	Follow(ctx context.Context, after FeedToken, f func(FeedBatch) error) error
}
