package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

var (
	_ storage.CollectionLooker = (*Engine)(nil)
	_ storage.Repairer         = (*Engine)(nil)
)

// LookupCollection opens a collection that exists — one opened with
// Collection, written by Apply or named by DeclareIndex since the engine was
// made — and creates nothing: any other name is an error wrapping
// storage.ErrNotFound.
func (e *Engine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	if e.colls[name] == nil {
		return nil, fmt.Errorf("%w: no collection %q", storage.ErrNotFound, name)
	}
	return &handle{e: e, name: name}, nil
}

// BadRows never calls f: the engine keeps decoded values, so it has no
// undecodable rows. A collection that does not exist is storage.ErrNotFound.
func (e *Engine) BadRows(ctx context.Context, collection string, _ func(storage.BadRow) error) error {
	_, err := e.LookupCollection(ctx, collection)
	return err
}

// RemoveRow removes an entity's state (kind "state", key the entity id) with
// its index entries, or an event (kind "event", key the event id) with its
// link to its entity. A row that is not stored is storage.ErrNotFound.
func (e *Engine) RemoveRow(ctx context.Context, collection, kind string, key []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if kind != "state" && kind != "event" {
		return fmt.Errorf("%w: row kind %q, want state or event", storage.ErrInvalid, kind)
	}
	if len(key) != id.Size {
		return fmt.Errorf("%w: %s key of %d bytes in %q", storage.ErrNotFound, kind, len(key), collection)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	c := e.colls[collection]
	if c == nil {
		return fmt.Errorf("%w: no collection %q", storage.ErrNotFound, collection)
	}
	if kind == "state" {
		eid := id.EntityID(key)
		s, ok := c.states.get(eid)
		if !ok {
			return fmt.Errorf("%w: state %s in %q", storage.ErrNotFound, eid, collection)
		}
		for prop, ix := range c.indexes {
			ix.remove(indexEntry(&s, prop))
		}
		c.states.remove(eid)
		return nil
	}
	evID := id.EventID(key)
	ev, ok := c.events[evID]
	if !ok {
		return fmt.Errorf("%w: event %s in %q", storage.ErrNotFound, evID, collection)
	}
	delete(c.events, evID)
	links := slices.DeleteFunc(slices.Clone(c.byEntity[ev.Entity]), func(x id.EventID) bool { return x == evID })
	if len(links) == 0 {
		delete(c.byEntity, ev.Entity)
	} else {
		c.byEntity[ev.Entity] = links
	}
	return nil
}
