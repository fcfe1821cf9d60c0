// Package memory is the in-memory storage engine: every collection is a
// few Go maps behind one lock, plus a sorted set of keys per declared index.
// It is the reference implementation of the storage contract, used by
// ephemeral nodes, tests and simulations. Nothing survives the Close of the
// store's last handle.
//
// # Handles and the change feed
//
// New makes a store and returns its first handle; Engine.Share returns
// another handle on the same store, so several nodes of one process (a
// simulation of several servers on one database) share their data. Each
// handle closes on its own; the data goes when the last one closes.
//
// Every handle is a storage.ChangeFeed over every batch any handle of the
// store commits. Batches are numbered in the order they commit (Apply holds
// the store's write lock), so a follower sees them in commit order — across
// entities too, which is more than the contract asks. The store keeps the
// last N committed batches in a ring (N is 1024 unless WithFeedRetention
// says otherwise; each kept batch holds the states it wrote, shared with the
// store while they are current); a follower further behind than N batches
// gets storage.ErrFeedGap. Follow reads at most 64 batches at a time under
// the lock and hands them to its callback after releasing it, so a slow
// follower costs the store nothing beyond the ring. A token is 17 bytes:
// a format byte, the store's number within this process and the batch
// number; it is valid only for stores of the process that made it (a token
// of another store is ErrFeedGap). A batch that writes nothing (no events,
// no states) commits nothing and is not reported; Clear and RemoveRow are not
// batches and are not reported either.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/indexplan"
)

// Engine is an in-memory storage.Engine. It also implements storage.Indexer:
// a declared index on a property keeps the collection's states sorted by
// that property's value (an ordered set of keyenc keys), and FetchStates
// reads candidates from it for equality, IN, range and LIKE-prefix terms of
// the top-level AND and for ORDER BY … LIMIT on that property; every
// candidate is then checked by the compiled predicate, so an index changes
// the cost of a query, never its answer. Safe for concurrent use.
//
// An Engine is one handle on a store (see New and Share); it is also a
// storage.ChangeFeed (see the package documentation).
type Engine struct {
	*store
	// closed is guarded by store.mu; done is closed with it, ending Follow.
	closed bool
	done   chan struct{}
}

// store is the data every handle of one store shares.
type store struct {
	mu      sync.RWMutex
	colls   map[string]*collection
	indexes []storage.Index
	open    int // handles not closed yet; at 0 the data is dropped
	feed    feedRing
}

// collection holds one collection's data. Stored states' and events' maps
// and bytes are never modified in place: Apply stores copies and replaces
// them whole, so readers may use a copy of an entry (taken under the lock)
// after releasing it.
type collection struct {
	name     string
	states   stateTable
	events   map[id.EventID]event.Event
	byEntity map[id.EntityID][]id.EventID
	// indexes maps an indexed property to its entries (see indexEntry).
	indexes map[string]*keySet
}

// indexed reports whether prop has a declared index in c.
func (c *collection) indexed(prop string) bool { return c.indexes[prop] != nil }

// put stores s (which the caller hands over), keeping the indexes current.
func (c *collection) put(s entity.State) {
	if len(c.indexes) > 0 {
		old, had := c.states.get(s.ID)
		for prop, ix := range c.indexes {
			k := indexEntry(&s, prop)
			if had {
				was := indexEntry(&old, prop)
				if was == k {
					continue
				}
				ix.remove(was)
			}
			ix.insert(k)
		}
	}
	c.states.set(s)
}

var (
	_ storage.Engine  = (*Engine)(nil)
	_ storage.Indexer = (*Engine)(nil)

	_ storage.KeepingClearer = (*Engine)(nil)
	_ storage.SharedReader   = (*handle)(nil)
	_ storage.ManyReader     = (*handle)(nil)
)

// Option configures New.
type Option func(*store)

// DefaultFeedRetention is how many committed batches a store keeps for its
// change feed unless WithFeedRetention says otherwise.
const DefaultFeedRetention = 1024

// WithFeedRetention keeps the last n committed batches for followers of the
// change feed (n < 1 is 1), from the first FeedHead on: before any, no
// follower can exist, and batches are not kept. A follower more than n batches behind gets
// storage.ErrFeedGap.
func WithFeedRetention(n int) Option {
	return func(s *store) { s.feed.ring = make([]feedEntry, max(n, 1)) }
}

// New makes an empty store and returns its first handle.
func New(opts ...Option) *Engine {
	s := &store{colls: map[string]*collection{}, open: 1}
	s.feed.init()
	for _, o := range opts {
		o(s)
	}
	if s.feed.ring == nil {
		s.feed.ring = make([]feedEntry, DefaultFeedRetention)
	}
	return &Engine{store: s, done: make(chan struct{})}
}

// Share returns another handle on e's store: it sees and writes the same
// data, follows the same change feed and closes on its own (the data goes
// when the store's last handle closes). Sharing a closed handle is
// storage.ErrClosed.
func (e *Engine) Share() (*Engine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	e.open++
	return &Engine{store: e.store, done: make(chan struct{})}, nil
}

func validName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty collection name", storage.ErrInvalid)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: collection name %q is not valid UTF-8", storage.ErrInvalid, name)
	}
	return nil
}

// coll returns the named collection, creating it; e.mu must be held for writing.
func (e *Engine) coll(name string) *collection {
	c := e.colls[name]
	if c == nil {
		c = &collection{
			name:     name,
			states:   newStateTable(),
			events:   map[id.EventID]event.Event{},
			byEntity: map[id.EntityID][]id.EventID{},
			indexes:  map[string]*keySet{},
		}
		for _, ix := range e.indexes {
			if ix.Collection == name {
				c.indexes[ix.Property] = &keySet{}
			}
		}
		e.colls[name] = c
	}
	return c
}

// Collection opens (creating if needed) the named collection.
func (e *Engine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	e.coll(name)
	return &handle{e: e, name: name}, nil
}

type stateKey struct {
	coll string
	id   id.EntityID
}

// Apply writes b atomically: it checks every state's expected head (and the
// batch's shape) before writing anything. Writes are copies, and the caller
// keeps b, unless b.Handover: then the states and events are kept as they
// are (stored states and events are never modified in place, so they may
// share their maps and bytes with a caller that only reads them).
func (e *Engine) Apply(ctx context.Context, b *storage.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Hash and validate outside the lock.
	evIDs := make([]id.EventID, len(b.Events))
	for i := range b.Events {
		ev := &b.Events[i]
		if err := validName(ev.Collection); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if ev.Entity.IsZero() {
			return fmt.Errorf("%w: event %d has no entity id", storage.ErrInvalid, i)
		}
		evIDs[i] = ev.ID()
	}
	for i := range b.States {
		s := &b.States[i].State
		if err := validName(s.Collection); err != nil {
			return fmt.Errorf("state %d (%s): %w", i, s.ID, err)
		}
		if err := s.Head.Validate(); err != nil {
			return fmt.Errorf("%w: state %s head: %v", storage.ErrInvalid, s.ID, err)
		}
		if err := b.States[i].Expected.Validate(); err != nil {
			return fmt.Errorf("%w: state %s expected head: %v", storage.ErrInvalid, s.ID, err)
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	// Check every expected head first. A batch that writes one entity twice
	// is checked in order: the second write expects the first one's head.
	// (States in strictly ascending id order cannot write one entity
	// twice, as a query's answer stored part by part: no map then.)
	var pending map[stateKey]event.Clock
	if !idsAscending(b.States) {
		pending = make(map[stateKey]event.Clock, len(b.States))
	}
	var last *collection // the collection of the previous state, looked up once for a run of them
	for _, w := range b.States {
		k := stateKey{w.State.Collection, w.State.ID}
		var head event.Clock
		ok := false
		if pending != nil {
			head, ok = pending[k]
		}
		if !ok {
			c := last
			if c == nil || c.name != k.coll {
				c = e.colls[k.coll]
				last = c
			}
			if c != nil {
				if s := c.states.getRef(k.id); s != nil {
					head, ok = s.Head, true
				}
			}
		}
		switch {
		case !ok && len(w.Expected) > 0:
			return fmt.Errorf("%w: %s in %q is not stored, expected head %v", storage.ErrConflict, k.id, k.coll, w.Expected)
		case ok && !slices.Equal(head, w.Expected):
			return fmt.Errorf("%w: %s in %q has head %v, expected %v", storage.ErrConflict, k.id, k.coll, head, w.Expected)
		}
		if pending != nil {
			pending[k] = w.State.Head
		}
	}
	for i, ev := range b.Events {
		c := e.coll(ev.Collection)
		if _, dup := c.events[evIDs[i]]; dup {
			continue
		}
		if !b.Handover {
			ev = cloneEvent(ev)
		}
		c.events[evIDs[i]] = ev
		c.byEntity[ev.Entity] = append(c.byEntity[ev.Entity], evIDs[i])
	}
	// A batch's states are kept for followers of the feed only once one
	// may follow (feedRing.watched; FeedHead, which sets it, waits for this
	// lock).
	var changes []storage.FeedChange
	watched := e.feed.watched.Load()
	if watched {
		changes = make([]storage.FeedChange, len(b.States))
	}
	last = nil
	for i, w := range b.States {
		st := w.State
		if !b.Handover {
			st = st.Clone()
		}
		if last == nil || last.name != st.Collection {
			last = e.coll(st.Collection)
		}
		last.put(st)
		if watched {
			changes[i] = storage.FeedChange{Collection: st.Collection, State: st}
		}
	}
	if len(b.Events) > 0 || len(b.States) > 0 {
		e.feed.append(changes)
	}
	return nil
}

// idsAscending reports whether ws are in strictly ascending entity id
// order (so no entity is written twice).
func idsAscending(ws []storage.StateWrite) bool {
	for i := 1; i < len(ws); i++ {
		if ws[i-1].State.ID.Compare(ws[i].State.ID) >= 0 {
			return false
		}
	}
	return true
}

// DeclareIndex declares an index on a property of a collection and builds
// it from the states already stored; Apply keeps it current from then on.
// Declaring an index twice is a no-op. Only a property name (a path of one
// segment) can be indexed; a dotted name is one property of that name.
func (e *Engine) DeclareIndex(ctx context.Context, ix storage.Index) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validName(ix.Collection); err != nil {
		return err
	}
	if ix.Property == "" {
		return fmt.Errorf("%w: index on %q without a property", storage.ErrInvalid, ix.Collection)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	if slices.Contains(e.indexes, ix) {
		return nil
	}
	e.indexes = append(e.indexes, ix)
	c := e.coll(ix.Collection)
	if c.indexes[ix.Property] == nil {
		ks := &keySet{}
		for s := range c.states.all() {
			ks.insert(indexEntry(s, ix.Property))
		}
		c.indexes[ix.Property] = ks
	}
	return nil
}

// Indexes returns the indexes declared so far, in declaration order.
func (e *Engine) Indexes() []storage.Index {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Clone(e.indexes)
}

// Close closes the handle: later calls, on it and on the collections it
// opened, fail with storage.ErrClosed, and its Follow calls return
// storage.ErrClosed. The Close of the store's last handle discards all data.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	e.closed = true
	close(e.done)
	e.open--
	if e.open == 0 {
		e.colls = nil
		e.feed.drop()
	}
	return nil
}

// read runs f with the named collection (nil when it holds nothing) under the read lock.
func (e *Engine) read(ctx context.Context, name string, f func(c *collection)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return storage.ErrClosed
	}
	f(e.colls[name])
	return nil
}

// handle is the storage.Collection of one collection name.
type handle struct {
	e    *Engine
	name string
}

func (h *handle) Name() string { return h.name }

func (h *handle) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	s, found, err := h.stored(ctx, eid)
	if err != nil {
		return entity.State{}, err
	}
	if !found {
		return entity.State{}, storage.NotFound(h.name, eid)
	}
	return s.Clone(), nil
}

// GetStateShared is GetState without the copy (storage.SharedReader).
func (h *handle) GetStateShared(ctx context.Context, eid id.EntityID) (entity.State, error) {
	s, found, err := h.stored(ctx, eid)
	if err != nil {
		return entity.State{}, err
	}
	if !found {
		return entity.State{}, storage.NotFound(h.name, eid)
	}
	return s, nil
}

// GetStatesShared returns the stored states of ids under one read lock, a
// zero State for an entity not stored (storage.ManyReader): a large part of
// an answer looks all its entities up before storing them.
func (h *handle) GetStatesShared(ctx context.Context, ids []id.EntityID) ([]entity.State, error) {
	out := make([]entity.State, len(ids))
	err := h.e.read(ctx, h.name, func(c *collection) {
		if c == nil {
			return
		}
		for i, eid := range ids {
			if p := c.states.getRef(eid); p != nil {
				out[i] = *p
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("memory: get from %q: %w", h.name, err)
	}
	return out, nil
}

// stored returns the stored state of eid as it is. It is read() for one
// entity without a closure (whose variables would escape): a bulk commit
// looks every one of its entities up, more than once.
func (h *handle) stored(ctx context.Context, eid id.EntityID) (entity.State, bool, error) {
	if err := ctx.Err(); err != nil {
		return entity.State{}, false, err
	}
	e := h.e
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return entity.State{}, false, storage.ErrClosed
	}
	c := e.colls[h.name]
	if c == nil {
		return entity.State{}, false, nil
	}
	s, found := c.states.get(eid)
	return s, found, nil
}

// FetchStates returns exactly the states matching sel, in its order and
// limited to its limit. When a declared index serves a term of the top-level
// AND or the first ORDER BY term, candidates come from that index (and an
// index scan in the selection's order stops once the limit is reached and
// the last tie group is complete); otherwise every state is a candidate.
// Candidates are checked by the compiled predicate and finished by
// storage.Residual either way.
func (h *handle) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	out, err := h.FetchStatesShared(ctx, sel)
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out, err
}

// FetchStatesShared is FetchStates without the copies (storage.SharedReader).
func (h *handle) FetchStatesShared(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	if sel == nil {
		return nil, fmt.Errorf("%w: nil selection", storage.ErrInvalid)
	}
	prog, err := query.Compile(sel, nil)
	if err != nil {
		return nil, fmt.Errorf("memory: fetch from %q: %w", h.name, err)
	}
	var (
		candidates []entity.State
		matched    bool // candidates are already filtered by prog
		scanErr    error
	)
	err = h.e.read(ctx, h.name, func(c *collection) {
		if c == nil || sel.Limit == 0 {
			return
		}
		p := indexplan.Choose(sel, c.indexed)
		if p.Property == "" {
			candidates = make([]entity.State, 0, c.states.len())
			for s := range c.states.all() {
				candidates = append(candidates, *s)
			}
			return
		}
		matched = true
		candidates, scanErr = c.scanIndex(p, prog, sel)
	})
	if err == nil {
		err = scanErr
	}
	if err != nil {
		return nil, fmt.Errorf("memory: fetch from %q: %w", h.name, err)
	}
	if matched {
		prog = nil
	}
	// The candidates share the stored maps, which are never modified in place.
	return storage.Residual(candidates, prog, sel.OrderBy, sel.Limit)
}

// scanIndex returns the states of p's index entries that prog matches, in
// index order. When p serves the selection's order and the selection has a
// limit, it stops after the tie group (same indexed value) of the limit-th
// match: storage.Residual breaks those ties and cuts the rest.
func (c *collection) scanIndex(p indexplan.Plan, prog query.Program, sel *query.Bound) ([]entity.State, error) {
	ix := c.indexes[p.Property]
	spans := p.Spans
	if p.Desc {
		spans = slices.Clone(spans)
		slices.Reverse(spans)
	}
	var (
		out      []entity.State
		boundary string
		bounded  bool
		err      error
	)
	visit := func(k string) bool {
		valKey, raw := k[:len(k)-id.Size], k[len(k)-id.Size:]
		if bounded && valKey != boundary {
			return false
		}
		s := c.states.getRef(id.EntityID([]byte(raw)))
		if s == nil {
			err = fmt.Errorf("index %q names entity %x, which is not stored", p.Property, raw)
			return false
		}
		match, merr := prog.Match(s.Values)
		if merr != nil {
			err = fmt.Errorf("filter on %s: %w", s.ID, merr)
			return false
		}
		if !match {
			return true
		}
		out = append(out, *s)
		if p.Ordered && sel.HasLimit() && int64(len(out)) == sel.Limit {
			boundary, bounded = valKey, true
		}
		return true
	}
	for _, s := range spans {
		lo, hi, open := string(s.Lo), string(s.Hi), s.Hi == nil
		if p.Desc {
			ix.descend(lo, hi, open, visit)
		} else {
			ix.ascend(lo, hi, open, visit)
		}
		// Spans are disjoint: once bounded, no later span holds the last tie group.
		if err != nil || bounded {
			break
		}
	}
	return out, err
}

// Explain describes how FetchStates would read sel from a collection: which
// declared index it scans, over how many value ranges, in which direction,
// and whether it serves the order (so a LIMIT stops it early); or a full scan.
func (e *Engine) Explain(ctx context.Context, name string, sel *query.Bound) (string, error) {
	if sel == nil {
		return "", fmt.Errorf("%w: nil selection", storage.ErrInvalid)
	}
	var out string
	err := e.read(ctx, name, func(c *collection) {
		if c == nil {
			out = "empty collection"
			return
		}
		out = indexplan.Choose(sel, c.indexed).String()
	})
	return out, err
}

func (h *handle) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	// read() without a closure, as stored: a commit looks up each of its
	// events.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e := h.e
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	c := e.colls[h.name]
	if c == nil {
		return nil, nil
	}
	var out []event.Event
	for _, x := range ids {
		if ev, ok := c.events[x]; ok {
			out = append(out, cloneEvent(ev))
		}
	}
	return out, nil
}

func (h *handle) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	var out []event.Event
	err := h.e.read(ctx, h.name, func(c *collection) {
		if c == nil {
			return
		}
		for _, x := range c.byEntity[eid] {
			out = append(out, cloneEvent(c.events[x]))
		}
	})
	return out, err
}

// cloneEvent returns a deep copy of ev.
func cloneEvent(ev event.Event) event.Event {
	c := ev
	c.Parent = slices.Clone(ev.Parent)
	c.Nonce = slices.Clone(ev.Nonce)
	if ev.Operations != nil {
		c.Operations = make(map[string][]byte, len(ev.Operations))
		for k, v := range ev.Operations {
			c.Operations[k] = slices.Clone(v)
		}
	}
	return c
}

// Clear drops every collection's states and events (declared indexes stay).
func (e *Engine) Clear(ctx context.Context) error { return e.ClearKeeping(ctx) }

// ClearKeeping is Clear but for the named collections, which keep their
// states and events (storage.KeepingClearer).
func (e *Engine) ClearKeeping(ctx context.Context, keep ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	for name, c := range e.colls {
		if slices.Contains(keep, name) {
			continue
		}
		c.states = newStateTable()
		c.events = map[id.EventID]event.Event{}
		c.byEntity = map[id.EntityID][]id.EventID{}
		for prop := range c.indexes {
			c.indexes[prop] = &keySet{}
		}
	}
	return nil
}
