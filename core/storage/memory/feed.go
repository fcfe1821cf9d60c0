package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/ankurah/ankurah-go/core/storage"
)

var _ storage.ChangeFeed = (*Engine)(nil)

// tokenFormat is the first byte of every token this engine makes.
const tokenFormat = 1

// tokenSize is the length of a token: format, store number, batch number.
const tokenSize = 1 + 8 + 8

// readAhead is how many batches Follow copies out of the ring per lock.
const readAhead = 64

// storeNumbers numbers the stores of this process, so that a token names
// the store it belongs to without reading global randomness.
var storeNumbers atomic.Uint64

// feedEntry is one committed batch the ring keeps. Its states are shared
// with the store (stored states are never modified in place).
type feedEntry struct {
	changes []storage.FeedChange
}

// feedRing keeps the last len(ring) committed batches; it is guarded by the
// store's lock. Batches are numbered from 1; batch n lives at ring[n%len].
type feedRing struct {
	store uint64 // this store's number within the process
	ring  []feedEntry
	last  uint64 // number of the latest committed batch (0: none yet)
	// watched is set by the first FeedHead. Only a token can start a
	// follower, and every token descends from one FeedHead, so until then
	// no follower can ask for any batch: a batch only takes its number,
	// and a store nobody follows (the default) keeps no copy of its
	// batches' states and wakes nobody.
	watched atomic.Bool
	// from is the number of the latest batch when the first FeedHead ran:
	// batches up to it were never kept, so a token before it (which no
	// FeedHead handed out) is a gap, not a run of empty batches.
	from atomic.Uint64
	// wake is closed (and replaced) whenever a batch commits or the store
	// drops its data, waking every waiting follower.
	wake chan struct{}
}

func (f *feedRing) init() {
	f.store = storeNumbers.Add(1)
	f.wake = make(chan struct{})
}

// oldest is the number of the oldest batch the ring still holds (last+1
// when it holds none).
func (f *feedRing) oldest() uint64 {
	if n := uint64(len(f.ring)); f.last > n {
		return f.last - n + 1
	}
	return 1
}

// append records a committed batch (the store's write lock held): its
// changes are kept only when the ring is watched.
func (f *feedRing) append(changes []storage.FeedChange) {
	f.last++
	if !f.watched.Load() {
		return
	}
	f.ring[f.last%uint64(len(f.ring))] = feedEntry{changes: changes}
	close(f.wake)
	f.wake = make(chan struct{})
}

// drop releases the kept batches (the store's last handle closed).
func (f *feedRing) drop() {
	clear(f.ring)
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *feedRing) token(n uint64) storage.FeedToken {
	t := make([]byte, tokenSize)
	t[0] = tokenFormat
	binary.BigEndian.PutUint64(t[1:9], f.store)
	binary.BigEndian.PutUint64(t[9:], n)
	return t
}

// FeedHead returns the token of the latest batch committed through any
// handle of the store.
func (e *Engine) FeedHead(ctx context.Context) (storage.FeedToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	// Under the read lock: no batch commits between this and the token,
	// so every batch after it is kept (append runs under the write lock).
	// Racing first calls all hold the read lock, so they store the same from.
	if !e.feed.watched.Load() {
		e.feed.from.Store(e.feed.last)
		e.feed.watched.Store(true)
	}
	return e.feed.token(e.feed.last), nil
}

// Follow calls f with every batch committed through any handle of the store
// after token, in commit order, waiting for new ones. A token of another
// store, a malformed one, or one older than the ring's retention is
// storage.ErrFeedGap; closing this handle ends it with storage.ErrClosed.
func (e *Engine) Follow(ctx context.Context, after storage.FeedToken, f func(storage.FeedBatch) error) error {
	if len(after) != tokenSize || after[0] != tokenFormat {
		return fmt.Errorf("%w: memory: malformed token (%d bytes)", storage.ErrFeedGap, len(after))
	}
	if binary.BigEndian.Uint64(after[1:9]) != e.feed.store {
		return fmt.Errorf("%w: memory: the token belongs to another store", storage.ErrFeedGap)
	}
	pos := binary.BigEndian.Uint64(after[9:])
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batches, wake, err := e.feedAfter(pos)
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := f(b); err != nil {
				return err
			}
			pos++
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if len(batches) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.done:
			return storage.ErrClosed
		case <-wake:
		}
	}
}

// feedAfter copies up to readAhead batches after number pos out of the
// ring; when there are none it returns the channel that wakes a follower.
func (e *Engine) feedAfter(pos uint64) ([]storage.FeedBatch, <-chan struct{}, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, nil, storage.ErrClosed
	}
	r := &e.feed
	switch {
	case pos > r.last:
		return nil, nil, fmt.Errorf("%w: memory: token at batch %d, but the store has committed %d", storage.ErrFeedGap, pos, r.last)
	case pos+1 < r.oldest():
		return nil, nil, fmt.Errorf("%w: memory: token at batch %d, the feed keeps batches from %d on (WithFeedRetention)", storage.ErrFeedGap, pos, r.oldest())
	case !r.watched.Load() || pos < r.from.Load():
		return nil, nil, fmt.Errorf("%w: memory: token at batch %d, but the feed keeps batches only from its first FeedHead on", storage.ErrFeedGap, pos)
	case pos == r.last:
		return nil, r.wake, nil
	}
	n := min(r.last-pos, readAhead)
	out := make([]storage.FeedBatch, n)
	for i := range out {
		seq := pos + 1 + uint64(i)
		ent := r.ring[seq%uint64(len(r.ring))]
		changes := make([]storage.FeedChange, len(ent.changes))
		for j, c := range ent.changes {
			changes[j] = storage.FeedChange{Collection: c.Collection, State: c.State.Clone()}
		}
		out[i] = storage.FeedBatch{Changes: changes, Token: r.token(seq)}
	}
	return out, nil, nil
}
