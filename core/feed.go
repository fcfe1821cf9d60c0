package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// ErrNoChangeFeed: WithSharedStorage was asked of an engine that cannot
// tell one server of another's commits (it does not implement
// storage.ChangeFeed).
var ErrNoChangeFeed = errors.New("ankurah: the storage engine has no change feed")

// WithSharedStorage says the node's engine is shared with other servers (or
// other nodes of this process): the node follows the engine's change feed
// (storage.ChangeFeed), and every batch any of them commits — this node's
// own included — reaches its live queries, watches and subscribed peers
// through the feed. A node's own commit is published as soon as it is
// stored when that keeps its entities' commit order (publishOwn), and the
// feed's delivery of it is skipped; otherwise the feed publishes it and the
// commit returns once the feed delivered it (or after feedWait, logged, if
// the feed lags). NewNode
// refuses it for an engine without a feed (ErrNoChangeFeed) and for an
// ephemeral node.
func WithSharedStorage() Option { return func(c *config) { c.shared = true } }

// feedWait bounds how long a commit waits for the feed to deliver it.
const feedWait = 5 * time.Second

// feedRetry is the pause before following the feed again after an error.
const feedRetry = time.Second

// follower is the node's side of its engine's change feed.
type follower struct {
	feed   storage.ChangeFeed
	token  storage.FeedToken
	cancel context.CancelFunc

	mu sync.Mutex
	// expected are this node's own written states the feed has not yet
	// delivered, with the state each replaced (the reactor needs it).
	expected map[feedKey]*expectation
	now      func() time.Time
}

type feedKey struct {
	eid  id.EntityID
	head string
}

type expectation struct {
	before *entity.State
	known  bool // before is known (nil: a new entity)
	done   chan struct{}
	at     time.Time // when it was written (metrics.go)
	// published: the node published it when Apply succeeded
	// (publishOwn); the feed's delivery of it is skipped. done is closed.
	published bool
}

func keyOf(st *entity.State) feedKey { return feedKey{st.ID, st.Head.String()} }

// startFollowing opens the feed at its head (NewNode; nothing committed
// after NewNode returns is missed) and starts following it.
func (n *Node) startFollowing(ctx context.Context) error {
	feed, ok := n.engine.(storage.ChangeFeed)
	if !ok {
		return fmt.Errorf("%w (%T)", ErrNoChangeFeed, n.engine)
	}
	if n.cfg.role != Durable {
		return fmt.Errorf("ankurah: WithSharedStorage is for durable nodes")
	}
	tok, err := feed.FeedHead(ctx)
	if err != nil {
		return fmt.Errorf("ankurah: change feed: %w", err)
	}
	n.clog.mu.Lock()
	n.clog.keepLatest = true // read by publishOwn, publishFeed and reconcileStates
	n.clog.mu.Unlock()
	fctx, cancel := context.WithCancel(context.Background())
	n.feed = &follower{feed: feed, token: tok, cancel: cancel, expected: map[feedKey]*expectation{}, now: n.cfg.now}
	if !n.spawn(func() { n.follow(fctx) }) {
		cancel()
		return ErrClosed
	}
	return nil
}

// follow delivers the feed's batches to the change log until ctx ends.
func (n *Node) follow(ctx context.Context) {
	f := n.feed
	for {
		err := f.feed.Follow(ctx, f.token, func(b storage.FeedBatch) error {
			n.publishFeed(ctx, b)
			f.token = b.Token
			return nil
		})
		if ctx.Err() != nil || errors.Is(err, storage.ErrClosed) {
			f.releaseAll()
			return
		}
		if errors.Is(err, storage.ErrFeedGap) {
			n.log.WarnContext(ctx, "change feed cannot resume; reading every live query again", "err", err)
			n.observeFeedRestart(true)
			if tok, herr := f.feed.FeedHead(ctx); herr == nil {
				f.token = tok
				n.rereadAll(ctx)
				f.releaseAll()
				continue
			} else {
				err = herr
			}
		}
		n.log.ErrorContext(ctx, "following the change feed failed; retrying", "err", err, "retry_in", feedRetry)
		n.observeFeedRestart(false)
		select {
		case <-ctx.Done():
			f.releaseAll()
			return
		case <-time.After(feedRetry):
		}
	}
}

// publishFeed publishes one batch the feed delivered: as this node's own
// commit when it wrote it, else as another server's. A batch of this node
// that publishOwn already published is not published again.
func (n *Node) publishFeed(ctx context.Context, b storage.FeedBatch) {
	if len(b.Changes) == 0 {
		return
	}
	f := n.feed
	changes := make([]change, 0, len(b.Changes))
	var done []chan struct{}
	var written []time.Time
	own := false
	// Lock order: the log's, then the follower's (publishOwn takes them so
	// too), so deciding who publishes a state and publishing it are one step.
	n.clog.mu.Lock()
	f.mu.Lock()
	for i := range b.Changes {
		fc := &b.Changes[i]
		if fc.State.Collection == "" {
			fc.State.Collection = fc.Collection
		}
		if fc.Collection == AttributionCollection {
			continue // written beside the data it describes, never published (attribution.go)
		}
		ch := change{collection: fc.Collection, after: fc.State}
		if x := f.expected[keyOf(&fc.State)]; x != nil {
			delete(f.expected, keyOf(&fc.State))
			own = true
			if x.published {
				continue
			}
			ch.before, ch.beforeUnknown = x.before, !x.known
			done = append(done, x.done)
			written = append(written, x.at)
		} else {
			ch.beforeUnknown = true
		}
		changes = append(changes, ch)
	}
	f.mu.Unlock()
	for i := range changes {
		if changes[i].beforeUnknown {
			// Another server's commit: the state it replaced is the last
			// one published here, if the log still holds it.
			if prev := n.clog.latest[changes[i].after.ID]; prev != nil {
				st := prev.state
				changes[i].before, changes[i].beforeUnknown = &st, false
			}
		}
	}
	if len(changes) > 0 {
		n.publishLocked(ctx, changes)
	}
	n.clog.mu.Unlock()
	n.observeFeed(own, written)
	for _, d := range done {
		close(d)
	}
}

// publishOwn publishes a batch this node just wrote, without waiting for
// the feed to deliver it, when that keeps every entity's commit order: for
// each state, the log's latest state of its entity is the one it replaced
// (or, for a new entity, the log holds none), and the feed has not
// delivered it yet. Then no earlier write of those entities — another
// server's, or one of this node's still in flight — is unpublished here,
// and any later one has a greater position in the feed, which delivers it
// after this batch (whose own delivery is then skipped). Otherwise it does
// nothing and the feed publishes the batch as it arrives (the commit waits
// for that, awaitFeed). Reports whether it published.
func (n *Node) publishOwn(ctx context.Context, changes []change) bool {
	f := n.feed
	n.clog.mu.Lock()
	defer n.clog.mu.Unlock()
	f.mu.Lock()
	xs := make([]*expectation, len(changes))
	for i := range changes {
		ch := &changes[i]
		x := f.expected[keyOf(&ch.after)]
		if x == nil || x.published || ch.beforeUnknown {
			f.mu.Unlock()
			return false
		}
		prev := n.clog.latest[ch.after.ID]
		switch {
		case ch.before == nil && prev != nil, ch.before != nil && (prev == nil || !prev.state.Head.Equal(ch.before.Head)):
			f.mu.Unlock()
			return false
		}
		xs[i] = x
	}
	written := make([]time.Time, len(xs))
	for i, x := range xs {
		x.published = true
		written[i] = x.at
		close(x.done)
	}
	f.mu.Unlock()
	n.publishLocked(ctx, changes)
	n.observeNotify(written)
	return true
}

// expect registers a batch this node is about to write, before it is
// written (so its delivery cannot be missed); forget undoes it when the
// write fails; await waits for its delivery.
func (f *follower) expect(changes []change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range changes {
		ch := &changes[i]
		f.expected[keyOf(&ch.after)] = &expectation{before: ch.before, known: true, done: make(chan struct{}), at: f.now()}
	}
}

func (f *follower) forget(changes []change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range changes {
		delete(f.expected, keyOf(&changes[i].after))
	}
}

func (n *Node) awaitFeed(ctx context.Context, changes []change) {
	f := n.feed
	f.mu.Lock()
	var waits []chan struct{}
	for i := range changes {
		if x := f.expected[keyOf(&changes[i].after)]; x != nil {
			waits = append(waits, x.done)
		}
	}
	f.mu.Unlock()
	timer := time.NewTimer(feedWait)
	defer timer.Stop()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		case <-timer.C:
			n.log.WarnContext(ctx, "the change feed has not delivered a commit; returning before its notification", "waited", feedWait)
			return
		}
	}
}

// releaseAll ends every wait (the feed stopped, or was read anew).
func (f *follower) releaseAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, x := range f.expected {
		if !x.published {
			close(x.done)
		}
		delete(f.expected, k)
	}
}

// rereadAll reads every live query again (after a gap in the feed).
func (n *Node) rereadAll(ctx context.Context) {
	for _, lq := range n.reactor.indexed() {
		lq.mu.Lock()
		c := lq.ctx
		lq.mu.Unlock()
		if err := lq.reauthorize(ctx, c, nil); err != nil && !errors.Is(err, ErrClosed) {
			n.log.WarnContext(ctx, "live query could not be read again after a change-feed gap", "query", lq.String(), "err", err)
		}
	}
}
