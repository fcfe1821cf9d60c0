package prommetrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// The storage operations timed, as the op label names them.
const (
	opCollection = iota
	opApply
	opGetState
	opFetchStates
	opGetEvents
	opEntityEvents
	opDeclareIndex
	opClear
	opLookupCollection
	opBadRows
	opRemoveRow
	opCollections
	opExplain
	opFeedHead
	opHealth
	opAggregate
	opFetchTraversal
	numOps
)

var opNames = [numOps]string{"collection", "apply", "get_state", "fetch_states", "get_events", "entity_events",
	"declare_index", "clear", "lookup_collection", "bad_rows", "remove_row", "collections", "explain", "feed_head", "health", "aggregate", "fetch_traversal"}

// InstrumentEngine returns inner with every call timed into
// ankurah_storage_duration_seconds and every failure counted in
// ankurah_storage_errors_total, by operation. The engine returned
// implements exactly the optional interfaces of package storage that inner
// implements (storage.Indexer, storage.ChangeFeed, storage.Healther, …), so
// callers that find them by type assertion find the same ones; its Unwrap
// method returns inner. Its collections implement the optional collection
// interfaces inner's do (storage.Aggregator, storage.SharedReader,
// storage.ManyReader, storage.Traverser; see engine.wrap). Closing it closes inner. A change feed's Follow is
// forwarded untimed (it runs for as long as the feed is followed).
func (m *Metrics) InstrumentEngine(inner storage.Engine) storage.Engine {
	if inner == nil {
		return nil
	}
	return withCaps(m.newEngine(inner), capsOf(inner))
}

// newEngine is inner with its operations timed into m's storage metrics.
func (m *Metrics) newEngine(inner storage.Engine) *engine {
	e := &engine{inner: inner}
	for op := range e.ops {
		e.ops[op] = opMetrics{m.storageSeconds.WithLabelValues(opNames[op]), m.storageErrors.WithLabelValues(opNames[op])}
	}
	return e
}

type opMetrics struct {
	seconds prometheus.Observer
	errors  prometheus.Counter
}

// engine is the instrumented storage.Engine; the cap types add the
// optional interfaces' methods (withCaps, caps_gen.go, combines them).
type engine struct {
	inner storage.Engine
	ops   [numOps]opMetrics
}

func (e *engine) done(op int, start time.Time, err error) {
	o := &e.ops[op]
	o.seconds.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		o.errors.Inc()
	}
}

// Unwrap returns the engine InstrumentEngine was given.
func (e *engine) Unwrap() storage.Engine { return e.inner }

// Collection opens a collection (timed) whose calls are timed.
func (e *engine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	start := time.Now()
	c, err := e.inner.Collection(ctx, name)
	e.done(opCollection, start, err)
	if err != nil {
		return nil, err
	}
	return e.wrap(c), nil
}

// wrap returns c with its calls timed, implementing exactly the optional
// collection interfaces c does (storage.Aggregator, storage.SharedReader,
// storage.ManyReader, storage.Traverser; withCollCaps, caps_gen.go).
func (e *engine) wrap(c storage.Collection) storage.Collection {
	w := &collection{inner: c, e: e}
	var k collCaps
	if _, ok := c.(storage.Aggregator); ok {
		k |= collsAggregator
	}
	if _, ok := c.(storage.SharedReader); ok {
		k |= collsShared
	}
	if _, ok := c.(storage.ManyReader); ok {
		k |= collsMany
	}
	if _, ok := c.(storage.Traverser); ok {
		k |= collsTraverser
	}
	return withCollCaps(w, k)
}

// Apply writes a batch (timed).
func (e *engine) Apply(ctx context.Context, b *storage.Batch) error {
	start := time.Now()
	err := e.inner.Apply(ctx, b)
	e.done(opApply, start, err)
	return err
}

// Close closes the inner engine.
func (e *engine) Close() error { return e.inner.Close() }

// collection is an instrumented storage.Collection.
type collection struct {
	inner storage.Collection
	e     *engine
}

func (c *collection) Name() string { return c.inner.Name() }

func (c *collection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	start := time.Now()
	st, err := c.inner.GetState(ctx, eid)
	c.e.done(opGetState, start, err)
	return st, err
}

func (c *collection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	start := time.Now()
	sts, err := c.inner.FetchStates(ctx, sel)
	c.e.done(opFetchStates, start, err)
	return sts, err
}

func (c *collection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	start := time.Now()
	evs, err := c.inner.GetEvents(ctx, ids)
	c.e.done(opGetEvents, start, err)
	return evs, err
}

func (c *collection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	start := time.Now()
	evs, err := c.inner.EntityEvents(ctx, eid)
	c.e.done(opEntityEvents, start, err)
	return evs, err
}

// getShared is GetStateShared of an inner storage.SharedReader, timed as
// GetState.
func (c *collection) getShared(ctx context.Context, eid id.EntityID) (entity.State, error) {
	start := time.Now()
	st, err := c.inner.(storage.SharedReader).GetStateShared(ctx, eid)
	c.e.done(opGetState, start, err)
	return st, err
}

// fetchShared is FetchStatesShared of an inner storage.SharedReader, timed
// as FetchStates.
func (c *collection) fetchShared(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	start := time.Now()
	sts, err := c.inner.(storage.SharedReader).FetchStatesShared(ctx, sel)
	c.e.done(opFetchStates, start, err)
	return sts, err
}

// collCaps is the set of optional storage interfaces a collection
// implements, as the instrumented collection passes them on.
type collCaps uint8

// The collection capabilities, in the order of capsgen.go's collParts.
const (
	collsAggregator collCaps = 1 << iota
	collsShared
	collsMany
	collsTraverser
	allCollCaps = collsTraverser<<1 - 1
)

// The collection capability types: each adds one optional interface's
// methods, timed, to the instrumented collection. Each is used only when
// the inner collection implements its interface, so the assertions in them
// cannot fail.
type (
	capAggregator struct{ c *collection }
	capShared     struct{ c *collection }
	capMany       struct{ c *collection }
	capTraverser  struct{ c *collection }
)

var (
	_ storage.Aggregator   = capAggregator{}
	_ storage.SharedReader = capShared{}
	_ storage.ManyReader   = capMany{}
	_ storage.Traverser    = capTraverser{}
)

// Aggregate computes an aggregate in the engine (timed; an engine that
// cannot push it down, storage.ErrNotPushedDown, is not counted as failing).
func (k capAggregator) Aggregate(ctx context.Context, sel *query.Bound, spec storage.AggregateSpec) ([]storage.GroupResult, error) {
	start := time.Now()
	res, err := k.c.inner.(storage.Aggregator).Aggregate(ctx, sel, spec)
	if errors.Is(err, storage.ErrNotPushedDown) {
		k.c.e.done(opAggregate, start, nil)
	} else {
		k.c.e.done(opAggregate, start, err)
	}
	return res, err
}

// GetStateShared reads a state shared with the engine (timed as get_state).
func (k capShared) GetStateShared(ctx context.Context, eid id.EntityID) (entity.State, error) {
	return k.c.getShared(ctx, eid)
}

// FetchStatesShared reads states shared with the engine (timed as
// fetch_states).
func (k capShared) FetchStatesShared(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	return k.c.fetchShared(ctx, sel)
}

// GetStatesShared reads many states in one step (timed as one get_state).
func (k capMany) GetStatesShared(ctx context.Context, ids []id.EntityID) ([]entity.State, error) {
	start := time.Now()
	sts, err := k.c.inner.(storage.ManyReader).GetStatesShared(ctx, ids)
	k.c.e.done(opGetState, start, err)
	return sts, err
}

// FetchTraversal evaluates a selection that follows references in the
// engine (timed as fetch_traversal).
func (k capTraverser) FetchTraversal(ctx context.Context, sel *storage.TraversalSelection) ([]entity.State, error) {
	start := time.Now()
	sts, err := k.c.inner.(storage.Traverser).FetchTraversal(ctx, sel)
	k.c.e.done(opFetchTraversal, start, err)
	return sts, err
}

// caps is the set of optional storage interfaces an engine implements.
type caps uint16

const (
	capsIndexer caps = 1 << iota
	capsClearer
	capsLooker
	capsRepairer
	capsLister
	capsExplainer
	capsFeed
	capsHealther
	capsKeeper // ClearKeeping, beside capsClearer: storage.KeepingClearer
	allCaps    = capsKeeper<<1 - 1
)

func capsOf(e storage.Engine) caps {
	var c caps
	for _, x := range []struct {
		ok  bool
		cap caps
	}{
		{is[storage.Indexer](e), capsIndexer},
		{is[storage.Clearer](e), capsClearer},
		{is[storage.CollectionLooker](e), capsLooker},
		{is[storage.Repairer](e), capsRepairer},
		{is[storage.CollectionLister](e), capsLister},
		{is[storage.Explainer](e), capsExplainer},
		{is[storage.ChangeFeed](e), capsFeed},
		{is[storage.Healther](e), capsHealther},
		{is[storage.KeepingClearer](e), capsKeeper},
	} {
		if x.ok {
			c |= x.cap
		}
	}
	return c
}

func is[T any](e storage.Engine) bool {
	_, ok := e.(T)
	return ok
}

// The capability types: each adds one optional interface's methods, timed,
// to the instrumented engine. Each is used only when the inner engine
// implements its interface, so the assertions in them cannot fail.
type (
	capIndexer   struct{ e *engine }
	capClearer   struct{ e *engine }
	capLooker    struct{ e *engine }
	capRepairer  struct{ e *engine }
	capLister    struct{ e *engine }
	capExplainer struct{ e *engine }
	capFeed      struct{ e *engine }
	capHealther  struct{ e *engine }
	capKeeper    struct{ e *engine }
)

var (
	_ storage.Indexer          = capIndexer{}
	_ storage.Clearer          = capClearer{}
	_ storage.CollectionLooker = capLooker{}
	_ storage.Repairer         = capRepairer{}
	_ storage.CollectionLister = capLister{}
	_ storage.Explainer        = capExplainer{}
	_ storage.ChangeFeed       = capFeed{}
	_ storage.Healther         = capHealther{}
	_ storage.KeepingClearer   = struct {
		capClearer
		capKeeper
	}{}
)

// DeclareIndex declares an index (timed).
func (c capIndexer) DeclareIndex(ctx context.Context, ix storage.Index) error {
	start := time.Now()
	err := c.e.inner.(storage.Indexer).DeclareIndex(ctx, ix)
	c.e.done(opDeclareIndex, start, err)
	return err
}

// Clear drops everything stored (timed).
func (c capClearer) Clear(ctx context.Context) error {
	start := time.Now()
	err := c.e.inner.(storage.Clearer).Clear(ctx)
	c.e.done(opClear, start, err)
	return err
}

// ClearKeeping drops everything stored but the named collections (timed
// as clear).
func (c capKeeper) ClearKeeping(ctx context.Context, keep ...string) error {
	start := time.Now()
	err := c.e.inner.(storage.KeepingClearer).ClearKeeping(ctx, keep...)
	c.e.done(opClear, start, err)
	return err
}

// LookupCollection opens an existing collection (timed), whose calls are timed.
func (c capLooker) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	start := time.Now()
	coll, err := c.e.inner.(storage.CollectionLooker).LookupCollection(ctx, name)
	c.e.done(opLookupCollection, start, err)
	if err != nil {
		return nil, err
	}
	return c.e.wrap(coll), nil
}

// BadRows lists undecodable rows (timed as a whole).
func (c capRepairer) BadRows(ctx context.Context, collection string, f func(storage.BadRow) error) error {
	start := time.Now()
	err := c.e.inner.(storage.Repairer).BadRows(ctx, collection, f)
	c.e.done(opBadRows, start, err)
	return err
}

// RemoveRow removes one row (timed).
func (c capRepairer) RemoveRow(ctx context.Context, collection, kind string, key []byte) error {
	start := time.Now()
	err := c.e.inner.(storage.Repairer).RemoveRow(ctx, collection, kind, key)
	c.e.done(opRemoveRow, start, err)
	return err
}

// Collections names every collection (timed).
func (c capLister) Collections(ctx context.Context) ([]string, error) {
	start := time.Now()
	names, err := c.e.inner.(storage.CollectionLister).Collections(ctx)
	c.e.done(opCollections, start, err)
	return names, err
}

// Explain describes a read (timed).
func (c capExplainer) Explain(ctx context.Context, collection string, sel *query.Bound) (string, error) {
	start := time.Now()
	s, err := c.e.inner.(storage.Explainer).Explain(ctx, collection, sel)
	c.e.done(opExplain, start, err)
	return s, err
}

// FeedHead returns the change feed's head (timed).
func (c capFeed) FeedHead(ctx context.Context) (storage.FeedToken, error) {
	start := time.Now()
	tok, err := c.e.inner.(storage.ChangeFeed).FeedHead(ctx)
	c.e.done(opFeedHead, start, err)
	return tok, err
}

// Follow follows the change feed (not timed).
func (c capFeed) Follow(ctx context.Context, after storage.FeedToken, f func(storage.FeedBatch) error) error {
	return c.e.inner.(storage.ChangeFeed).Follow(ctx, after, f)
}

// Health asks the inner engine whether it can serve (timed).
func (c capHealther) Health(ctx context.Context) error {
	start := time.Now()
	err := c.e.inner.(storage.Healther).Health(ctx)
	c.e.done(opHealth, start, err)
	return err
}
