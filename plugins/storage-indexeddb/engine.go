//go:build js && wasm

package indexeddb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// FormatVersion is the version of the stored layout this engine writes; a
// database holding a newer one is refused with storage.ErrFormat.
const FormatVersion = 1

// schemaVersion is the IndexedDB database version. It changes only with the
// fixed set of object stores, never per collection or property.
const schemaVersion = 1

const (
	storeStates       = "states"
	storeEvents       = "events"
	storeEntityEvents = "entity_events"
	storeIndex        = "index"
	storeIndexes      = "indexes"
	storeMeta         = "meta"
)

var allStores = []string{storeStates, storeEvents, storeEntityEvents, storeIndex, storeIndexes, storeMeta}

// Engine is a storage.Engine on one IndexedDB database. It is safe for
// concurrent use; IndexedDB serializes overlapping readwrite transactions.
type Engine struct {
	name string
	db   js.Value

	mu     sync.RWMutex
	closed bool
	onVC   js.Func
}

var (
	_ storage.Engine  = (*Engine)(nil)
	_ storage.Indexer = (*Engine)(nil)
	_ storage.Clearer = (*Engine)(nil)

	_ storage.CollectionLooker = (*Engine)(nil)
)

// Row kinds of storage.BadRow.
const (
	kindState = "state"
	kindEvent = "event"
)

// reportBadRow reports a row a read leaves out because it does not decode.
func reportBadRow(ctx context.Context, collection, kind string, key []byte, err error) {
	storage.ReportBadRow(ctx, nil, storage.BadRow{Collection: collection, Kind: kind, Key: key, Err: err})
}

// Open opens (creating if needed) the IndexedDB database called name.
// A database written by a newer version of this engine is refused with an
// error wrapping storage.ErrFormat.
func Open(ctx context.Context, name string) (*Engine, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty database name", storage.ErrInvalid)
	}
	factory := js.Global().Get("indexedDB")
	if factory.IsUndefined() || factory.IsNull() {
		return nil, errors.New("indexeddb: this environment has no indexedDB")
	}
	var req js.Value
	if err := catch(func() { req = factory.Call("open", name, schemaVersion) }); err != nil {
		return nil, fmt.Errorf("indexeddb: open %q: %w", name, err)
	}
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		// Runs once, when the database is created: the fixed store set.
		db := req.Get("result")
		stores := db.Get("objectStoreNames")
		for _, s := range allStores {
			if !stores.Call("contains", s).Bool() {
				db.Call("createObjectStore", s)
			}
		}
		req.Get("transaction").Call("objectStore", storeMeta).Call("put", FormatVersion, "format")
		return nil
	})
	req.Set("onupgradeneeded", upgrade)
	defer func() {
		req.Set("onupgradeneeded", js.Null())
		upgrade.Release()
	}()
	db, err := await(ctx, req)
	if err != nil {
		var je *jsError
		if errors.As(err, &je) && je.name == "VersionError" {
			return nil, fmt.Errorf("%w: IndexedDB database %q has a newer schema than version %d: %v", storage.ErrFormat, name, schemaVersion, err)
		}
		return nil, fmt.Errorf("indexeddb: open %q: %w", name, err)
	}
	e := &Engine{name: name, db: db}
	// Another tab upgrading the schema (a newer release) must not be blocked by this one.
	e.onVC = js.FuncOf(func(js.Value, []js.Value) any {
		db.Call("close")
		return nil
	})
	db.Set("onversionchange", e.onVC)
	if err := e.checkFormat(ctx); err != nil {
		_ = e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) checkFormat(ctx context.Context) error {
	x, err := e.begin("readonly", storeMeta)
	if err != nil {
		return err
	}
	v, err := await(ctx, x.store(storeMeta).Call("get", "format"))
	x.abort()
	if err != nil {
		return fmt.Errorf("indexeddb: read format: %w", err)
	}
	if v.Type() != js.TypeNumber {
		return fmt.Errorf("%w: IndexedDB database %q has no ankurah format marker", storage.ErrFormat, e.name)
	}
	if f := v.Int(); f > FormatVersion {
		return fmt.Errorf("%w: IndexedDB database %q has format %d, this engine reads up to %d", storage.ErrFormat, e.name, f, FormatVersion)
	}
	return nil
}

// Name returns the IndexedDB database name.
func (e *Engine) Name() string { return e.name }

// Close closes the database. Later calls, a second Close included, fail
// with storage.ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	e.closed = true
	e.db.Call("close")
	e.db.Set("onversionchange", js.Null())
	e.onVC.Release()
	return nil
}

// Delete deletes the IndexedDB database called name (closing it first
// where this engine has it open elsewhere is the caller's job).
func Delete(ctx context.Context, name string) error {
	var req js.Value
	if err := catch(func() { req = js.Global().Get("indexedDB").Call("deleteDatabase", name) }); err != nil {
		return fmt.Errorf("indexeddb: delete %q: %w", name, err)
	}
	if _, err := await(ctx, req); err != nil {
		return fmt.Errorf("indexeddb: delete %q: %w", name, err)
	}
	return nil
}

// use runs f while holding the engine open (Close waits for it).
func (e *Engine) use(f func() error) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return storage.ErrClosed
	}
	return f()
}

// Collection returns the collection called name (collections need no
// creation, so it writes nothing).
func (e *Engine) Collection(_ context.Context, name string) (storage.Collection, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty collection name", storage.ErrInvalid)
	}
	if err := e.use(func() error { return nil }); err != nil {
		return nil, err
	}
	return &Collection{e: e, name: name}, nil
}

// LookupCollection returns the collection called name if it exists, which
// here means it holds a state, an event or a declared index (Collection
// writes nothing, so a collection only opened does not exist yet); another
// name is an error wrapping storage.ErrNotFound. It writes nothing.
func (e *Engine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty collection name", storage.ErrInvalid)
	}
	found := false
	err := e.use(func() error {
		x, err := e.begin("readonly", storeStates, storeEvents, storeIndexes)
		if err != nil {
			return err
		}
		defer x.abort()
		r := prefixRange(name)
		firsts, err := awaitAll(ctx, []js.Value{
			x.store(storeStates).Call("getKey", r),
			x.store(storeEvents).Call("getKey", r),
			x.store(storeIndexes).Call("getKey", r),
		})
		if err != nil {
			return fmt.Errorf("indexeddb: look up collection %q: %w", name, err)
		}
		for _, k := range firsts {
			found = found || !k.IsUndefined()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: indexeddb: no collection %q", storage.ErrNotFound, name)
	}
	return &Collection{e: e, name: name}, nil
}

// Apply writes a batch in one readwrite transaction: events, then states
// with their index entries. A state whose stored head is not its expected
// head aborts the transaction with an error wrapping storage.ErrConflict.
func (e *Engine) Apply(ctx context.Context, b *storage.Batch) error {
	if err := validateBatch(b); err != nil {
		return err
	}
	return e.use(func() error {
		if len(b.Events) == 0 && len(b.States) == 0 {
			return nil
		}
		x, err := e.begin("readwrite", storeStates, storeEvents, storeEntityEvents, storeIndex, storeIndexes)
		if err != nil {
			return err
		}
		if err := e.apply(ctx, x, b); err != nil {
			x.abort()
			return err
		}
		if err := x.commit(); err != nil {
			return fmt.Errorf("indexeddb: apply: %w", err)
		}
		return nil
	})
}

func validateBatch(b *storage.Batch) error {
	for i, ev := range b.Events {
		if ev.Collection == "" {
			return fmt.Errorf("%w: event %d of the batch has no collection", storage.ErrInvalid, i)
		}
	}
	for i, w := range b.States {
		if w.State.Collection == "" {
			return fmt.Errorf("%w: state %d of the batch (%s) has no collection", storage.ErrInvalid, i, w.State.ID)
		}
	}
	return nil
}

func (e *Engine) apply(ctx context.Context, x *txn, b *storage.Batch) error {
	// Writes are not awaited one by one: a failed write aborts the
	// transaction, and commit reports it.
	events, entityEvents := x.store(storeEvents), x.store(storeEntityEvents)
	for i := range b.Events {
		ev := &b.Events[i]
		enc, err := ev.Encode()
		if err != nil {
			return fmt.Errorf("%w: event %s: %v", storage.ErrInvalid, ev.ID(), err)
		}
		eid := ev.ID()
		events.Call("put", bytesJS(enc), key(ev.Collection, bytesJS(eid[:])))
		entityEvents.Call("put", 0, key(ev.Collection, bytesJS(ev.Entity[:]), bytesJS(eid[:])))
	}
	if len(b.States) == 0 {
		return nil
	}
	states := x.store(storeStates)
	// Read every stored state and every collection's declared indexes at once.
	gets := make([]js.Value, len(b.States))
	for i, w := range b.States {
		gets[i] = states.Call("get", key(w.State.Collection, bytesJS(w.State.ID[:])))
	}
	var colls []string
	seen := map[string]bool{}
	for _, w := range b.States {
		if c := w.State.Collection; !seen[c] {
			seen[c] = true
			colls = append(colls, c)
			gets = append(gets, x.store(storeIndexes).Call("getAllKeys", prefixRange(c)))
		}
	}
	// Await everything together: a request's handlers must be set before
	// the browser delivers its result, which it does in issue order.
	res, err := awaitAll(ctx, gets)
	if err != nil {
		return err
	}
	stored := res[:len(b.States)]
	props := map[string][]string{}
	for i, c := range colls {
		props[c] = indexedProps(res[len(b.States)+i])
	}
	index := x.store(storeIndex)
	written := map[string]*entity.State{} // states written earlier in this batch
	for i, w := range b.States {
		st := &w.State
		var old *entity.State
		wkey := st.Collection + "\x00" + string(st.ID[:])
		if prev, ok := written[wkey]; ok {
			// The same entity twice in one batch: the second write follows the first.
			old = prev
		} else if !stored[i].IsUndefined() {
			o, err := entity.Decode(bytesGo(stored[i]))
			if err != nil {
				// Its head cannot be checked: the write fails until the row is gone (Clear).
				return fmt.Errorf("%w: indexeddb: stored state %s in %q does not decode: %w", storage.ErrFormat, st.ID, st.Collection, err)
			}
			old = &o
		}
		if err := checkExpected(st, old, w.Expected); err != nil {
			return err
		}
		enc, err := st.Encode()
		if err != nil {
			return fmt.Errorf("%w: state %s: %v", storage.ErrInvalid, st.ID, err)
		}
		idKey := bytesJS(st.ID[:])
		states.Call("put", bytesJS(enc), key(st.Collection, idKey))
		written[wkey] = st
		for _, p := range props[st.Collection] {
			nv := keyenc.Key(st.Values.Get(p))
			if old != nil {
				ov := keyenc.Key(old.Values.Get(p))
				if string(ov) == string(nv) {
					continue
				}
				index.Call("delete", key(st.Collection, p, bytesJS(ov), idKey))
			}
			index.Call("put", 0, key(st.Collection, p, bytesJS(nv), idKey))
		}
	}
	return nil
}

func checkExpected(st *entity.State, old *entity.State, expected event.Clock) error {
	switch {
	case old == nil && len(expected) == 0:
		return nil
	case old == nil:
		return fmt.Errorf("%w: %s in %q is not stored, expected head %s", storage.ErrConflict, st.ID, st.Collection, expected)
	case !old.Head.Equal(expected):
		return fmt.Errorf("%w: %s in %q has head %s, expected %s", storage.ErrConflict, st.ID, st.Collection, old.Head, expected)
	}
	return nil
}

// indexedProps turns the keys [collection, property] of the indexes store
// into property names.
func indexedProps(keys js.Value) []string {
	n := keys.Length()
	out := make([]string, n)
	for i := range n {
		out[i] = keys.Index(i).Index(1).String()
	}
	return out
}

// Clear drops every state, event and index entry in one transaction,
// keeping the declared indexes (an ephemeral node's cache, dropped when it
// meets a durable peer of another system).
func (e *Engine) Clear(ctx context.Context) error {
	return e.use(func() error {
		x, err := e.begin("readwrite", storeStates, storeEvents, storeEntityEvents, storeIndex)
		if err != nil {
			return err
		}
		for _, s := range []string{storeStates, storeEvents, storeEntityEvents, storeIndex} {
			x.store(s).Call("clear")
		}
		if err := x.commit(); err != nil {
			return fmt.Errorf("indexeddb: clear: %w", err)
		}
		return nil
	})
}

// DeclareIndex declares an index on a property of a collection and fills
// it from the stored states, in one transaction. Declaring it again is a
// no-op. Stored states that do not decode are left out (and reported
// through storage.ReportBadRow), as fetches leave them out.
func (e *Engine) DeclareIndex(ctx context.Context, ix storage.Index) error {
	if ix.Collection == "" || ix.Property == "" {
		return fmt.Errorf("%w: index needs a collection and a property (got %q, %q)", storage.ErrInvalid, ix.Collection, ix.Property)
	}
	return e.use(func() error {
		x, err := e.begin("readwrite", storeStates, storeIndex, storeIndexes)
		if err != nil {
			return err
		}
		if err := e.declare(ctx, x, ix); err != nil {
			x.abort()
			return fmt.Errorf("indexeddb: declare index %s.%s: %w", ix.Collection, ix.Property, err)
		}
		if err := x.commit(); err != nil {
			return fmt.Errorf("indexeddb: declare index %s.%s: %w", ix.Collection, ix.Property, err)
		}
		return nil
	})
}

func (e *Engine) declare(ctx context.Context, x *txn, ix storage.Index) error {
	decl := key(ix.Collection, ix.Property)
	n, err := await(ctx, x.store(storeIndexes).Call("count", decl))
	if err != nil {
		return err
	}
	if n.Int() > 0 {
		return nil
	}
	all, err := await(ctx, x.store(storeStates).Call("getAll", prefixRange(ix.Collection)))
	if err != nil {
		return err
	}
	index := x.store(storeIndex)
	x.store(storeIndexes).Call("put", 0, decl)
	keyOf := (&Collection{e: e, name: ix.Collection}).allStateKeys(ctx, x)
	for i := range all.Length() {
		st, err := entity.Decode(bytesGo(all.Index(i)))
		if err != nil {
			// Fetches skip it too; it is left out of the index.
			reportBadRow(ctx, ix.Collection, kindState, keyOf(i), err)
			continue
		}
		index.Call("put", 0, key(ix.Collection, ix.Property, bytesJS(keyenc.Key(st.Values.Get(ix.Property))), bytesJS(st.ID[:])))
	}
	return nil
}
