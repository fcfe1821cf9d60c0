package bolt

import (
	"bytes"
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Collection reads one collection of an Engine.
type Collection struct {
	e    *Engine
	name string
}

var _ storage.Collection = (*Collection)(nil)

// Collection opens the named collection, creating it if needed (its
// buckets). Reads that must not create use LookupCollection.
func (e *Engine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	err := e.update(ctx, func(tx *bbolt.Tx) error {
		if collectionBucket(tx, name) != nil {
			return nil
		}
		_, err := createCollection(tx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: collection %q: %w", name, err)
	}
	return &Collection{e: e, name: name}, nil
}

// Name returns the collection's name.
func (c *Collection) Name() string { return c.name }

// GetState returns the stored state of an entity, or an error wrapping
// storage.ErrNotFound. A stored state that does not decode is an error
// wrapping storage.ErrFormat that names the entity (`ankurah admin
// remove-row` removes it).
func (c *Collection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	var s entity.State
	err := c.e.view(ctx, func(tx *bbolt.Tx) error {
		b := collectionBucket(tx, c.name)
		var raw []byte
		if b != nil {
			raw = b.Bucket(subStates).Get(eid[:])
		}
		if raw == nil {
			return fmt.Errorf("bolt: state of %s/%s: %w", c.name, eid, storage.ErrNotFound)
		}
		var err error
		if s, err = entity.Decode(raw); err != nil {
			return undecodable(c.name, eid, err)
		}
		return nil
	})
	return s, err
}

// GetEvents returns the stored events among ids, in the order of ids;
// missing ids are omitted, and so are events that do not decode (each
// reported through storage.ReportBadRow).
func (c *Collection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	var out []event.Event
	err := c.e.view(ctx, func(tx *bbolt.Tx) error {
		b := collectionBucket(tx, c.name)
		if b == nil {
			return nil
		}
		events := b.Bucket(subEvents)
		for _, eid := range ids {
			raw := events.Get(eid[:])
			if raw == nil {
				continue
			}
			ev, err := event.Decode(raw)
			if err != nil {
				c.e.skip(ctx, c.name, "event", eid[:], err)
				continue
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// EntityEvents returns every stored event of an entity, ordered by event
// id, skipping (and reporting through storage.ReportBadRow) events that do
// not decode.
func (c *Collection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	var out []event.Event
	err := c.e.view(ctx, func(tx *bbolt.Tx) error {
		b := collectionBucket(tx, c.name)
		if b == nil {
			return nil
		}
		events := b.Bucket(subEvents)
		cur := b.Bucket(subStates).Cursor()
		for k, _ := cur.Seek(eid[:]); k != nil && bytes.HasPrefix(k, eid[:]); k, _ = cur.Next() {
			if isStateKey(k) {
				continue
			}
			evID := k[id.Size:]
			raw := events.Get(evID)
			if raw == nil {
				return fmt.Errorf("bolt: event %x of %s/%s is linked but not stored: %w", evID, c.name, eid, storage.ErrFormat)
			}
			ev, err := event.Decode(raw)
			if err != nil {
				c.e.skip(ctx, c.name, "event", evID, err)
				continue
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}
