package kv

import (
	"context"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Row kinds of storage.BadRow and RemoveRow.
const (
	kindState = "state"
	kindEvent = "event"
)

// Collection reads one collection of an Engine. A collection is the keys
// under its name, so opening one writes nothing.
type Collection struct {
	e    *Engine
	name string
}

var (
	_ storage.Collection = (*Collection)(nil)
	_ storage.ManyReader = (*Collection)(nil)
)

// Collection returns the named collection. It writes nothing: a collection
// exists (for LookupCollection) once it holds a state, an event or a
// declared index.
func (e *Engine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	if err := e.enter(ctx); err != nil {
		return nil, err
	}
	e.mu.RUnlock()
	if err := e.validName("collection", name); err != nil {
		return nil, err
	}
	return &Collection{e: e, name: name}, nil
}

// Name returns the collection's name.
func (c *Collection) Name() string { return c.name }

// GetState returns the stored state of an entity, or an error wrapping
// storage.ErrNotFound. A stored state that does not decode is an error
// wrapping storage.ErrFormat that names the entity.
func (c *Collection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	var s entity.State
	err := c.e.view(ctx, func(r Reader) error {
		raw, err := r.Get(ctx, c.e.keys.state(c.name, eid))
		if err != nil {
			return fmt.Errorf("%s: reading %s/%s: %w", c.e.cfg.name, c.name, eid, err)
		}
		if raw == nil {
			return fmt.Errorf("%s: state of %s/%s: %w", c.e.cfg.name, c.name, eid, storage.ErrNotFound)
		}
		if s, err = entity.Decode(raw); err != nil {
			return c.e.undecodable(c.name, eid, err)
		}
		return nil
	})
	return s, err
}

// GetStatesShared returns the stored states of ids in one read
// transaction (storage.ManyReader), decoded; an entity not stored gives a
// zero State.
func (c *Collection) GetStatesShared(ctx context.Context, ids []id.EntityID) ([]entity.State, error) {
	out := make([]entity.State, len(ids))
	err := c.e.view(ctx, func(r Reader) error {
		for start := 0; start < len(ids); start += c.e.cfg.batch {
			part := ids[start:min(len(ids), start+c.e.cfg.batch)]
			keys := make([][]byte, len(part))
			for i, eid := range part {
				keys[i] = c.e.keys.state(c.name, eid)
			}
			raws, err := getMany(ctx, r, keys)
			if err != nil {
				return fmt.Errorf("%s: reading %s: %w", c.e.cfg.name, c.name, err)
			}
			for i, raw := range raws {
				if raw == nil {
					continue
				}
				if out[start+i], err = entity.Decode(raw); err != nil {
					return c.e.undecodable(c.name, part[i], err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// undecodable is the error of a read or write that needs one stored state
// that does not decode.
func (e *Engine) undecodable(collection string, eid id.EntityID, err error) error {
	return fmt.Errorf("%s: stored state of %s/%s does not decode (%w; `ankurah admin remove-row` removes it): %w",
		e.cfg.name, collection, eid, storage.ErrFormat, err)
}

// GetEvents returns the stored events among ids, in the order of ids;
// missing ids are omitted, and so are events that do not decode (reported
// through storage.ReportBadRow).
func (c *Collection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	var out []event.Event
	err := c.e.view(ctx, func(r Reader) error {
		var err error
		out, err = c.getEvents(ctx, r, ids)
		return err
	})
	return out, err
}

func (c *Collection) getEvents(ctx context.Context, r Reader, ids []id.EventID) ([]event.Event, error) {
	var out []event.Event
	for start := 0; start < len(ids); start += c.e.cfg.batch {
		chunk := ids[start:min(start+c.e.cfg.batch, len(ids))]
		keys := make([][]byte, len(chunk))
		for i, ev := range chunk {
			keys[i] = c.e.keys.event(c.name, ev)
		}
		vals, err := getMany(ctx, r, keys)
		if err != nil {
			return nil, fmt.Errorf("%s: reading events of %s: %w", c.e.cfg.name, c.name, err)
		}
		for i, v := range vals {
			if v == nil {
				if mutant == mutGetEventsStopsAtMissing {
					return out, nil
				}
				continue
			}
			ev, err := event.Decode(v)
			if err != nil {
				c.e.skip(ctx, c.name, kindEvent, chunk[i][:], err)
				continue
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

// EntityEvents returns every stored event of an entity, in event-id order,
// skipping those that do not decode as GetEvents does.
func (c *Collection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	var out []event.Event
	err := c.e.view(ctx, func(r Reader) error {
		prefix := c.e.keys.entityEvents(c.name, eid)
		if mutant == mutEntityEventsWholeCollection {
			prefix = c.e.keys.coll(tagEntityEvent, c.name, 0)
		}
		ids := []id.EventID{id.EventID(eid)} // the genesis event, which has no link
		if mutant == mutGenesisNotListed {
			ids = ids[:0]
		}
		err := r.Scan(ctx, prefix, keyenc.PrefixEnd(prefix), false, func(k, _ []byte) (bool, error) {
			evID, _ := trailingID(k)
			ids = append(ids, evID)
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("%s: listing events of %s/%s: %w", c.e.cfg.name, c.name, eid, err)
		}
		slices.SortFunc(ids, func(a, b id.EventID) int { return slices.Compare(a[:], b[:]) })
		ids = slices.Compact(ids) // format 1 also linked the genesis event
		out, err = c.getEvents(ctx, r, ids)
		return err
	})
	return out, err
}
