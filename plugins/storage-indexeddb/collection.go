//go:build js && wasm

package indexeddb

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"syscall/js"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Collection reads one collection of an Engine.
type Collection struct {
	e    *Engine
	name string
}

var _ storage.Collection = (*Collection)(nil)

// Name returns the collection's name.
func (c *Collection) Name() string { return c.name }

// read runs f in a readonly transaction over stores.
func (c *Collection) read(ctx context.Context, f func(x *txn) error, stores ...string) error {
	return c.e.use(func() error {
		x, err := c.e.begin("readonly", stores...)
		if err != nil {
			return err
		}
		err = f(x)
		x.abort() // a readonly transaction has nothing to commit; ending it now frees it
		return err
	})
}

// GetState returns the stored state of an entity, or storage.ErrNotFound; a
// stored state that does not decode is storage.ErrFormat, naming the entity.
func (c *Collection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	var st entity.State
	err := c.read(ctx, func(x *txn) error {
		v, err := await(ctx, x.store(storeStates).Call("get", key(c.name, bytesJS(eid[:]))))
		if err != nil {
			return err
		}
		if v.IsUndefined() {
			return fmt.Errorf("%w: %s in %q", storage.ErrNotFound, eid, c.name)
		}
		if st, err = entity.Decode(bytesGo(v)); err != nil {
			return fmt.Errorf("%w: indexeddb: stored state %s in %q does not decode: %w", storage.ErrFormat, eid, c.name, err)
		}
		return nil
	}, storeStates)
	return st, err
}

// GetEvents returns the stored events among ids; missing ids are omitted,
// and so are events that do not decode (reported through
// storage.ReportBadRow).
func (c *Collection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	var out []event.Event
	err := c.read(ctx, func(x *txn) error {
		var err error
		out, err = c.getEvents(ctx, x, ids)
		return err
	}, storeEvents)
	return out, err
}

func (c *Collection) getEvents(ctx context.Context, x *txn, ids []id.EventID) ([]event.Event, error) {
	events := x.store(storeEvents)
	reqs := make([]js.Value, len(ids))
	for i, eid := range ids {
		reqs[i] = events.Call("get", key(c.name, bytesJS(eid[:])))
	}
	vals, err := awaitAll(ctx, reqs)
	if err != nil {
		return nil, err
	}
	var out []event.Event
	for i, v := range vals {
		if v.IsUndefined() {
			continue
		}
		ev, err := event.Decode(bytesGo(v))
		if err != nil {
			reportBadRow(ctx, c.name, kindEvent, ids[i][:], err)
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

// EntityEvents returns every stored event of an entity, skipping those that
// do not decode as GetEvents does.
func (c *Collection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	var out []event.Event
	err := c.read(ctx, func(x *txn) error {
		keys, err := await(ctx, x.store(storeEntityEvents).Call("getAllKeys", prefixRange(c.name, bytesJS(eid[:]))))
		if err != nil {
			return err
		}
		ids := make([]id.EventID, keys.Length())
		for i := range ids {
			copy(ids[i][:], bytesGo(keys.Index(i).Index(2)))
		}
		out, err = c.getEvents(ctx, x, ids)
		return err
	}, storeEntityEvents, storeEvents)
	return out, err
}

// FetchStates returns exactly the states matching sel, in sel's order,
// limited to sel.Limit, reading through a declared index when one serves
// the selection. A stored state that does not decode is skipped and
// reported through storage.ReportBadRow.
func (c *Collection) FetchStates(ctx context.Context, sel *query.Bound) ([]entity.State, error) {
	if sel == nil {
		return nil, fmt.Errorf("%w: nil selection", storage.ErrInvalid)
	}
	prog, err := query.Compile(sel, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", storage.ErrInvalid, err)
	}
	var out []entity.State
	err = c.read(ctx, func(x *txn) error {
		if sel.Limit == 0 {
			return nil
		}
		decl, err := await(ctx, x.store(storeIndexes).Call("getAllKeys", prefixRange(c.name)))
		if err != nil {
			return err
		}
		indexed := map[string]bool{}
		for _, p := range indexedProps(decl) {
			indexed[p] = true
		}
		p := makePlan(sel, indexed)
		var cands []entity.State
		switch {
		case p.Ordered:
			out, err = c.walkOrdered(ctx, x, p, sel, prog)
			return err
		case p.Property == "":
			all, err := await(ctx, x.store(storeStates).Call("getAll", prefixRange(c.name)))
			if err != nil {
				return err
			}
			cands = c.decodeStates(ctx, arrayValues(all), c.allStateKeys(ctx, x))
		default:
			if cands, err = c.rangeCandidates(ctx, x, p); err != nil {
				return err
			}
		}
		out, err = storage.Residual(cands, prog, sel.OrderBy, sel.Limit)
		return err
	}, storeStates, storeIndex, storeIndexes)
	return out, err
}

func arrayValues(arr js.Value) []js.Value {
	out := make([]js.Value, arr.Length())
	for i := range out {
		out[i] = arr.Index(i)
	}
	return out
}

// decodeStates decodes stored states, skipping (and reporting) those that
// do not decode; keyOf(i) returns the entity id of vals[i], for the report.
func (c *Collection) decodeStates(ctx context.Context, vals []js.Value, keyOf func(i int) []byte) []entity.State {
	out := make([]entity.State, 0, len(vals))
	for i, v := range vals {
		if v.IsUndefined() {
			continue // an index entry whose state another writer removed
		}
		st, err := entity.Decode(bytesGo(v))
		if err != nil {
			reportBadRow(ctx, c.name, kindState, keyOf(i), err)
			continue
		}
		out = append(out, st)
	}
	return out
}

// allStateKeys returns keyOf for the values of a getAll over the
// collection's states: it reads the keys (in the same order, in x) only
// when first asked, which only a state that does not decode does.
func (c *Collection) allStateKeys(ctx context.Context, x *txn) func(i int) []byte {
	var keys js.Value
	return func(i int) []byte {
		if keys.IsUndefined() {
			k, err := await(ctx, x.store(storeStates).Call("getAllKeys", prefixRange(c.name)))
			if err != nil {
				return nil // the report names the collection only
			}
			keys = k
		}
		if i >= keys.Length() {
			return nil
		}
		return bytesGo(keys.Index(i).Index(1))
	}
}

// indexRange is the IDBKeyRange of the index entries of c's property whose
// values fall in r.
func (c *Collection) indexRange(prop string, r keyRange) js.Value {
	lo := key(c.name, prop)
	loOpen := false
	if r.Lo != nil {
		if r.LoOpen {
			lo, loOpen = key(c.name, prop, bytesJS(r.Lo), emptyArray()), true
		} else {
			lo = key(c.name, prop, bytesJS(r.Lo))
		}
	}
	hi, hiOpen := key(c.name, prop, emptyArray()), true
	if r.Hi != nil {
		if r.HiOpen {
			hi = key(c.name, prop, bytesJS(r.Hi))
		} else {
			hi = key(c.name, prop, bytesJS(r.Hi), emptyArray())
		}
	}
	return bound(lo, hi, loOpen, hiOpen)
}

// rangeCandidates reads the states whose indexed property falls in the plan's ranges.
func (c *Collection) rangeCandidates(ctx context.Context, x *txn, p plan) ([]entity.State, error) {
	index := x.store(storeIndex)
	reqs := make([]js.Value, len(p.Ranges))
	for i, r := range p.Ranges {
		reqs[i] = index.Call("getAllKeys", c.indexRange(p.Property, r))
	}
	lists, err := awaitAll(ctx, reqs)
	if err != nil {
		return nil, err
	}
	var ids [][]byte
	for _, l := range lists {
		for i := range l.Length() {
			ids = append(ids, bytesGo(l.Index(i).Index(3)))
		}
	}
	slices.SortFunc(ids, bytes.Compare)
	ids = slices.CompactFunc(ids, bytes.Equal)
	return c.getStates(ctx, x, ids)
}

func (c *Collection) getStates(ctx context.Context, x *txn, ids [][]byte) ([]entity.State, error) {
	states := x.store(storeStates)
	reqs := make([]js.Value, len(ids))
	for i, b := range ids {
		reqs[i] = states.Call("get", key(c.name, bytesJS(b)))
	}
	vals, err := awaitAll(ctx, reqs)
	if err != nil {
		return nil, err
	}
	return c.decodeStates(ctx, vals, func(i int) []byte { return ids[i] }), nil
}

// walkOrdered walks the index of the first ORDER BY term in its direction,
// one group of equal values at a time: each group's states are filtered and
// sorted by the whole ORDER BY (ties by id), and the walk stops at the first
// group boundary once the limit is reached.
func (c *Collection) walkOrdered(ctx context.Context, x *txn, p plan, sel *query.Bound, prog query.Program) ([]entity.State, error) {
	r := keyRange{}
	if len(p.Ranges) == 1 {
		r = p.Ranges[0]
	}
	dir := "next"
	if p.Reverse {
		dir = "prev"
	}
	req := x.store(storeIndex).Call("openKeyCursor", c.indexRange(p.Property, r), dir)
	var out []entity.State
	var group [][]byte
	var groupVal []byte
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		sts, err := c.getStates(ctx, x, group)
		if err != nil {
			return err
		}
		sts, err = storage.Residual(sts, prog, sel.OrderBy, -1)
		if err != nil {
			return err
		}
		out = append(out, sts...)
		group = group[:0]
		return nil
	}
	for {
		cur, err := await(ctx, req)
		if err != nil {
			return nil, err
		}
		if cur.IsNull() {
			break
		}
		k := cur.Get("key")
		v := bytesGo(k.Index(2))
		if groupVal == nil || !bytes.Equal(v, groupVal) {
			if err := flush(); err != nil {
				return nil, err
			}
			if int64(len(out)) >= sel.Limit {
				break
			}
			groupVal = v
		}
		group = append(group, bytesGo(k.Index(3)))
		cur.Call("continue")
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if int64(len(out)) > sel.Limit {
		out = out[:sel.Limit]
	}
	return out, nil
}
