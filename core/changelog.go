package core

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
)

// changeLog is the node's ordered change log. Every written batch — a local
// commit, a commit forwarded by a client, an offline commit, states received
// from a durable peer — is published here once, and gets the next position
// (seq). Publishing hands the batch to the reactor, which gives it to live
// queries, watches and subscribed peers, in log order.
//
// Readers do not take the node's write lock. A reader notes the log's
// position before it reads storage, reads, and then, holding only mu (in
// memory, briefly), reconciles what it read with the entries published since
// — entities changed meanwhile take their state from the log — and registers
// itself (a live query, a watch) or queues its answer (a peer's response) at
// exactly that position. So it misses no change and counts none twice: what
// was published before the registration is in its result, what is published
// after reaches it as a change. A state a reader saw in storage whose entry
// is not yet published arrives later as a change with an unchanged head,
// which live queries ignore.
//
// The log keeps its last logRetain entries (at most logRetainStates states
// and about logRetainBytes in all); a reader slower than that reads again (and, after a few tries,
// reads with publication paused). The same publish step is where a storage
// change feed (storage.ChangeFeed) hands in batches other processes wrote.
type changeLog struct {
	mu      sync.Mutex
	seq     uint64     // position of the last published batch
	entries []logEntry // the retained entries, oldest first
	states  int        // states held by entries
	bytes   int        // their estimated size
	// latest is each retained entity's last published state, kept only
	// when keepLatest is set: a node that follows a shared storage's change
	// feed (feed.go) is its one reader, and a catch-up of many states into
	// any other node would only grow and churn it.
	latest     map[id.EntityID]*logChange
	keepLatest bool
}

type logEntry struct {
	seq     uint64
	changes []logChange
	bytes   int
}

type logChange struct {
	collection string
	state      entity.State
}

const (
	logRetain       = 1024
	logRetainStates = 1 << 16
	logRetainBytes  = 4 << 20
)

// readTries bounds how often a reader re-reads after falling behind the
// retained log before it reads with publication paused (a variable so that
// tests can send every read down the paused path).
var readTries = 3

// position returns the position of the last published batch.
func (l *changeLog) position() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// append records a published batch (mu held) and returns its position.
func (l *changeLog) append(changes []change) uint64 {
	l.seq++
	e := logEntry{seq: l.seq, changes: make([]logChange, len(changes))}
	for i := range changes {
		e.changes[i] = logChange{collection: changes[i].collection, state: changes[i].after}
	}
	l.entries = append(l.entries, e)
	l.states += len(e.changes)
	e.bytes = 0
	for i := range e.changes {
		e.bytes += estimateStateSize(&e.changes[i].state)
	}
	l.entries[len(l.entries)-1].bytes = e.bytes
	l.bytes += e.bytes
	if l.keepLatest {
		if l.latest == nil {
			l.latest = map[id.EntityID]*logChange{}
		}
		for i := range e.changes {
			l.latest[e.changes[i].state.ID] = &e.changes[i]
		}
	}
	drop := 0
	for len(l.entries)-drop > logRetain || (l.states > logRetainStates || l.bytes > logRetainBytes) && len(l.entries)-drop > 1 {
		old := l.entries[drop].changes
		l.bytes -= l.entries[drop].bytes
		for i := range old {
			if l.keepLatest && l.latest[old[i].state.ID] == &old[i] {
				delete(l.latest, old[i].state.ID)
			}
		}
		l.states -= len(old)
		drop++
	}
	if drop > 0 {
		// Resliced, not shifted (O(1) per batch); append moves the live
		// entries to a new array when this one is used up.
		clear(l.entries[:drop])
		l.entries = l.entries[drop:]
	}
	return l.seq
}

// barrier takes the next position for a change the log cannot describe
// entity by entity (an ephemeral node dropping its cache): no reader that
// began before it can reconcile with it (mu held).
func (l *changeLog) barrier() {
	l.seq++
	l.entries, l.states, l.bytes, l.latest = nil, 0, 0, nil
}

// since returns the latest state of every entity of collection ("" for any)
// published after position s0, and whether the log still reaches back to
// s0 (mu held).
func (l *changeLog) since(s0 uint64, collection string) (map[id.EntityID]*logChange, bool) {
	if s0 == l.seq {
		return nil, true
	}
	if s0 > l.seq || len(l.entries) == 0 || l.entries[0].seq > s0+1 {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(l.entries, s0+1, func(e logEntry, s uint64) int { return cmp.Compare(e.seq, s) })
	out := map[id.EntityID]*logChange{}
	for ; i < len(l.entries); i++ {
		for j := range l.entries[i].changes {
			ch := &l.entries[i].changes[j]
			if collection == "" || ch.collection == collection {
				out[ch.state.ID] = ch
			}
		}
	}
	return out, true
}

// publish gives a written batch its position in the change log and hands
// it to the reactor (live queries, watches, subscribed peers), in log order.
// Writers call it right after the batch is stored, still holding the write
// lock, so an entity's batches are published in the order they were stored.
func (n *Node) publish(ctx context.Context, changes []change) {
	n.clog.mu.Lock()
	defer n.clog.mu.Unlock()
	n.publishLocked(ctx, changes)
}

// publishLocked is publish with the log's lock held (the change feed's
// follower, feed.go, publishes that way).
func (n *Node) publishLocked(ctx context.Context, changes []change) {
	n.clog.append(changes)
	n.reactor.notify(ctx, n, changes) // marks ctx cacheOnly where it reads
}

// cacheOnlyKey marks a context whose reads must not ask the durable peer.
type cacheOnlyKey struct{}

// cacheOnly marks ctx so that the reads made under it (a live query's
// refill while it is notified, and the traversal hops that refill reads)
// use this node's cache only: a notification runs under the node's write
// and log locks, and on a client often on the goroutine that reads the
// durable peer's messages, so waiting there for an answer would wait
// forever. A refill's rows that came from the cache are refreshed apart
// (LiveQuery.refreshPulled).
func cacheOnly(ctx context.Context) context.Context {
	if isCacheOnly(ctx) {
		return ctx
	}
	return context.WithValue(ctx, cacheOnlyKey{}, true)
}

// isCacheOnly reports whether ctx was marked by cacheOnly.
func isCacheOnly(ctx context.Context) bool {
	v, _ := ctx.Value(cacheOnlyKey{}).(bool)
	return v
}

// readAt runs read (a read of storage, under ctx) and then apply, holding
// the log's lock, with the position the log had before read: apply
// reconciles what was read with the entries published since and returns
// false when it cannot (the log no longer reaches back, or the selection
// needs a fresh read). After readTries, read runs with publication paused,
// so it always completes; that read is from this node's cache only
// (cacheOnly): on a client, asking the durable peer there would wait for
// an answer that can only be stored by publishing it, under the lock this
// read holds. The unpaused tries before it brought the cache current.
func (n *Node) readAt(ctx context.Context, read func(ctx context.Context) error, apply func(s0 uint64) (bool, error)) error {
	for try := 0; ; try++ {
		if try >= readTries {
			n.clog.mu.Lock()
			defer n.clog.mu.Unlock()
			if err := read(cacheOnly(ctx)); err != nil {
				return err
			}
			_, err := apply(n.clog.seq)
			return err
		}
		s0 := n.clog.position()
		if err := read(ctx); err != nil {
			return err
		}
		n.clog.mu.Lock()
		ok, err := apply(s0)
		n.clog.mu.Unlock()
		if ok || err != nil {
			return err
		}
	}
}

// reconcileStates brings the result of a selection read at log position s0
// up to the log's current position (log.mu held): entities published since
// take their state from the log, and are in the result only if they match
// (prog, not deleted, readable by c), in the selection's order. A LIMITed
// result stands when nothing published since touches or enters it
// (limitedUnaffected); otherwise ok is false: read again.
func (n *Node) reconcileStates(ctx context.Context, c *Context, collection string, eff *query.Bound, prog query.Program, states []entity.State, s0 uint64) ([]entity.State, bool) {
	changed, ok := n.clog.since(s0, collection)
	if !ok {
		return nil, false
	}
	if n.feed != nil && !eff.HasLimit() {
		// Storage may be ahead of the feed: a state the log holds an older
		// version of is stepped back to it (the newer one arrives from the
		// feed), so a result never goes back in time.
		for i := range states {
			if _, ok := changed[states[i].ID]; ok {
				continue
			}
			if prev := n.clog.latest[states[i].ID]; prev != nil && !prev.state.Head.Equal(states[i].Head) {
				if changed == nil {
					changed = map[id.EntityID]*logChange{}
				}
				changed[states[i].ID] = prev
			}
		}
	}
	if len(changed) == 0 {
		return states, true
	}
	if eff.HasLimit() {
		return states, limitedUnaffected(ctx, c, eff, prog, states, changed)
	}
	out := states[:0:0]
	for i := range states {
		if _, ok := changed[states[i].ID]; !ok {
			out = append(out, states[i])
		}
	}
	for _, ch := range changed {
		if c.matches(ctx, prog, &ch.state) {
			out = append(out, ch.state)
		}
	}
	slices.SortStableFunc(out, func(a, b entity.State) int {
		return query.CompareRows(eff.OrderBy, a.Values, a.ID, b.Values, b.ID)
	})
	return out, true
}

// limitedUnaffected reports whether changes published since a LIMITed
// result was read leave it as it is: none touches a row of it (other than
// with the very state read) and none could enter it — it does not match, or
// sorts after the last row of a full window. Otherwise the result is read
// again (a row that left may need one from storage to replace it).
func limitedUnaffected(ctx context.Context, c *Context, eff *query.Bound, prog query.Program, states []entity.State, changed map[id.EntityID]*logChange) bool {
	full := eff.Limit > 0 && int64(len(states)) >= eff.Limit
	in := make(map[id.EntityID]int, len(states))
	for i := range states {
		in[states[i].ID] = i
	}
	for _, ch := range changed {
		if i, ok := in[ch.state.ID]; ok {
			if states[i].Head.Equal(ch.state.Head) && !ch.state.Deleted() {
				continue // the read already saw it
			}
			return false
		}
		if !c.matches(ctx, prog, &ch.state) {
			continue
		}
		if full {
			last := &states[len(states)-1]
			if query.CompareRows(eff.OrderBy, ch.state.Values, ch.state.ID, last.Values, last.ID) > 0 {
				continue
			}
		}
		return false
	}
	return true
}

// matches reports whether a state belongs in a live result of prog for c:
// not deleted, after the selection's cursor (if any), matching, readable.
func (c *Context) matches(ctx context.Context, prog query.Program, st *entity.State) bool {
	if st.Deleted() {
		return false
	}
	if lp, ok := prog.(*liveProgram); ok && lp.after != nil && !lp.after.Before(lp.order, st.Values, st.ID) {
		return false // at or behind the cursor
	}
	n := c.node
	ok, err := prog.Match(st.Values)
	if err != nil {
		n.log.WarnContext(ctx, "live query evaluation failed", "entity", st.ID.String(), "err", err)
		return false
	}
	return ok && n.agent.CheckRead(ctx, c.cdata, st) == nil
}
