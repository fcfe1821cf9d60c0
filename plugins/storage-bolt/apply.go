package bolt

import (
	"context"
	"crypto/sha256"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Apply writes b in one bbolt transaction: its events (an event already
// stored is left as it is), then its states, each checked against its
// expected head. On a conflict or any other error nothing is written.
func (e *Engine) Apply(ctx context.Context, b *storage.Batch) error {
	if b == nil {
		return fmt.Errorf("bolt: nil batch: %w", storage.ErrInvalid)
	}
	if len(b.Events) == 0 && len(b.States) == 0 {
		return e.ready(ctx)
	}
	// Encode outside the write lock: it is the CPU-heavy part of a batch.
	events := make([]encodedEvent, len(b.Events))
	for i := range b.Events {
		ev, err := encodeEvent(&b.Events[i])
		if err != nil {
			return err
		}
		events[i] = ev
	}
	states := make([][]byte, len(b.States))
	for i := range b.States {
		s := &b.States[i].State
		if err := validName(s.Collection); err != nil {
			return fmt.Errorf("bolt: state of entity %s: %w", s.ID, err)
		}
		raw, err := s.Encode()
		if err != nil {
			return fmt.Errorf("bolt: encode state of %s/%s: %v: %w", s.Collection, s.ID, err, storage.ErrInvalid)
		}
		states[i] = raw
	}
	return e.update(ctx, func(tx *bbolt.Tx) error {
		w := batchWriter{tx: tx, open: map[string]*writeBuckets{}}
		for _, ev := range events {
			if err := w.putEvent(ev); err != nil {
				return err
			}
		}
		for i := range b.States {
			if err := w.putState(&b.States[i], states[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// batchWriter writes one batch, resolving each collection's buckets and
// declared indexes once per transaction.
type batchWriter struct {
	tx   *bbolt.Tx
	open map[string]*writeBuckets
}

type writeBuckets struct {
	states, events, index *bbolt.Bucket
	// indexPrefixes are the key prefixes of the declared indexes, by property.
	indexPrefixes map[string][]byte
}

func (w *batchWriter) collection(name string) (*writeBuckets, error) {
	if b, ok := w.open[name]; ok {
		return b, nil
	}
	c, err := createCollection(w.tx, name)
	if err != nil {
		return nil, err
	}
	b := &writeBuckets{
		states: c.Bucket(subStates), events: c.Bucket(subEvents),
		index:         c.Bucket(subIndex),
		indexPrefixes: map[string][]byte{},
	}
	err = c.Bucket(subDeclared).ForEach(func(prop, _ []byte) error {
		b.indexPrefixes[string(prop)] = keyenc.AppendString(nil, string(prop))
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.open[name] = b
	return b, nil
}

type encodedEvent struct {
	collection string
	entity     id.EntityID
	id         id.EventID
	raw        []byte
}

func encodeEvent(ev *event.Event) (encodedEvent, error) {
	if err := validName(ev.Collection); err != nil {
		return encodedEvent{}, fmt.Errorf("bolt: event of entity %s: %w", ev.Entity, err)
	}
	raw, err := ev.Encode()
	if err != nil {
		return encodedEvent{}, fmt.Errorf("bolt: encode event of %s/%s: %v: %w", ev.Collection, ev.Entity, err, storage.ErrInvalid)
	}
	out := encodedEvent{collection: ev.Collection, entity: ev.Entity, id: sha256.Sum256(raw), raw: raw}
	if ev.IsGenesis() {
		out.entity = id.EntityID(out.id) // a genesis event names its entity
	} else if ev.Entity.IsZero() {
		return encodedEvent{}, fmt.Errorf("bolt: event %s of collection %q has no entity id: %w", out.id, ev.Collection, storage.ErrInvalid)
	}
	return out, nil
}

func (w *batchWriter) putEvent(ev encodedEvent) error {
	c, err := w.collection(ev.collection)
	if err != nil {
		return err
	}
	events := c.events
	if events.Get(ev.id[:]) != nil {
		return nil // content-addressed: the same id is the same event
	}
	if err := events.Put(ev.id[:], ev.raw); err != nil {
		return fmt.Errorf("bolt: store event %s of %s/%s: %w", ev.id, ev.collection, ev.entity, err)
	}
	link := make([]byte, 0, 2*id.Size)
	link = append(append(link, ev.entity[:]...), ev.id[:]...)
	if err := c.states.Put(link, nil); err != nil {
		return fmt.Errorf("bolt: store event %s of %s/%s: %w", ev.id, ev.collection, ev.entity, err)
	}
	return nil
}

func (bw *batchWriter) putState(w *storage.StateWrite, raw []byte) error {
	s := &w.State
	c, err := bw.collection(s.Collection)
	if err != nil {
		return err
	}
	states := c.states
	var old *entity.State
	var stored event.Clock
	if prev := states.Get(s.ID[:]); prev != nil {
		o, err := entity.Decode(prev)
		if err != nil {
			// Its head cannot be checked: the write fails until the row is removed.
			return undecodable(s.Collection, s.ID, err)
		}
		old, stored = &o, o.Head
	}
	// An empty Expected means "not stored yet", whatever head a stored state has.
	if (old == nil) != (len(w.Expected) == 0) || !stored.Equal(w.Expected) {
		return fmt.Errorf("bolt: state of %s/%s: stored head %s, expected %s: %w",
			s.Collection, s.ID, headText(old, stored), w.Expected, storage.ErrConflict)
	}
	if err := states.Put(s.ID[:], raw); err != nil {
		return fmt.Errorf("bolt: store state of %s/%s: %w", s.Collection, s.ID, err)
	}
	if err := updateIndexes(c.index, c.indexPrefixes, old, s); err != nil {
		return fmt.Errorf("bolt: index state of %s/%s: %w", s.Collection, s.ID, err)
	}
	return nil
}

func headText(old *entity.State, head event.Clock) string {
	if old == nil {
		return "none (not stored)"
	}
	return head.String()
}
