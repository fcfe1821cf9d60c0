package tikv

import (
	"context"
	"fmt"

	tikverr "github.com/tikv/client-go/v2/error"
	"github.com/tikv/client-go/v2/txnkv/txnsnapshot"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Collection is one collection of an Engine: a key prefix, nothing to create.
type Collection struct {
	e    *Engine
	name string
}

var _ storage.Collection = (*Collection)(nil)

// Collection returns the named collection. Collections need no creation in
// TiKV: a collection is the keys under its name, so Collection writes
// nothing (and LookupCollection finds the collection once it holds a key).
func (e *Engine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	if err := validName("collection", name); err != nil {
		return nil, err
	}
	return &Collection{e: e, name: name}, nil
}

// Name returns the collection's name.
func (c *Collection) Name() string { return c.name }

// iterator is what client-go's scanners return (its type is internal).
type iterator interface {
	Valid() bool
	Key() []byte
	Value() []byte
	Next() error
	Close()
}

// snapshot returns a consistent read view at the current timestamp, whose
// scans read batch keys per round trip.
func (e *Engine) snapshot(ctx context.Context) (*txnsnapshot.KVSnapshot, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	ts, err := e.client.GetTimestamp(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: getting a read timestamp: %w", err)
	}
	snap := e.client.GetSnapshot(ts)
	snap.SetScanBatchSize(e.cfg.batch)
	return snap, nil
}

// GetState returns the stored state of an entity, or storage.ErrNotFound.
// A stored state that does not decode is an error wrapping storage.ErrFormat
// that names the entity.
func (c *Collection) GetState(ctx context.Context, eid id.EntityID) (entity.State, error) {
	snap, err := c.e.snapshot(ctx)
	if err != nil {
		return entity.State{}, err
	}
	got, err := snap.Get(ctx, c.e.keys.state(c.name, eid))
	if tikverr.IsErrNotFound(err) {
		return entity.State{}, fmt.Errorf("%w: %s/%s", storage.ErrNotFound, c.name, eid)
	}
	if err != nil {
		return entity.State{}, fmt.Errorf("tikv: reading %s/%s: %w", c.name, eid, err)
	}
	return c.decodeState(eid, got.Value)
}

func (c *Collection) decodeState(eid id.EntityID, b []byte) (entity.State, error) {
	s, err := entity.Decode(b)
	if err != nil {
		return entity.State{}, fmt.Errorf("%w: tikv: stored state %s/%s does not decode (`ankurah admin remove-row` removes it): %w", storage.ErrFormat, c.name, eid, err)
	}
	return s, nil
}

// GetEvents returns the stored events among ids, in the order of ids;
// missing ids are omitted, and so are events that do not decode (reported
// through storage.ReportBadRow).
func (c *Collection) GetEvents(ctx context.Context, ids []id.EventID) ([]event.Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	snap, err := c.e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return c.getEvents(ctx, snap, ids)
}

func (c *Collection) getEvents(ctx context.Context, snap *txnsnapshot.KVSnapshot, ids []id.EventID) ([]event.Event, error) {
	var out []event.Event
	for start := 0; start < len(ids); start += c.e.cfg.batch {
		chunk := ids[start:min(start+c.e.cfg.batch, len(ids))]
		ks := make([][]byte, len(chunk))
		for i, ev := range chunk {
			ks[i] = c.e.keys.event(c.name, ev)
		}
		got, err := snap.BatchGet(ctx, ks)
		if err != nil {
			return nil, fmt.Errorf("tikv: reading events of %s: %w", c.name, err)
		}
		for i, k := range ks {
			v, ok := got[string(k)]
			if !ok {
				continue
			}
			ev, err := event.Decode(v.Value)
			if err != nil {
				c.e.skip(ctx, c.name, kindEvent, chunk[i][:], err)
				continue
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

// EntityEvents returns every stored event of an entity (in event-id order),
// skipping those that do not decode as GetEvents does.
func (c *Collection) EntityEvents(ctx context.Context, eid id.EntityID) ([]event.Event, error) {
	snap, err := c.e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	prefix := c.e.keys.entityEvents(c.name, eid)
	it, err := snap.Iter(prefix, keyenc.PrefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("tikv: listing events of %s/%s: %w", c.name, eid, err)
	}
	defer it.Close()
	var ids []id.EventID
	for it.Valid() {
		evID, _ := trailingID(it.Key())
		ids = append(ids, evID)
		if err := it.Next(); err != nil {
			return nil, fmt.Errorf("tikv: listing events of %s/%s: %w", c.name, eid, err)
		}
	}
	return c.getEvents(ctx, snap, ids)
}
