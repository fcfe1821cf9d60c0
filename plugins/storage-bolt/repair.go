package bolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

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

var (
	_ storage.CollectionLooker = (*Engine)(nil)
	_ storage.Repairer         = (*Engine)(nil)
	_ storage.CollectionLister = (*Engine)(nil)
)

// undecodable is the error of a read or write that needs one stored state
// that does not decode.
func undecodable(collection string, eid id.EntityID, err error) error {
	return fmt.Errorf("bolt: stored state of %s/%s does not decode (%w; `ankurah admin remove-row` removes it): %w",
		collection, eid, storage.ErrFormat, err)
}

// skip reports a row a scan leaves out because it does not decode.
func (e *Engine) skip(ctx context.Context, collection, kind string, key []byte, err error) {
	storage.ReportBadRow(ctx, e.log, storage.BadRow{Collection: collection, Kind: kind, Key: slices.Clone(key), Err: err})
}

// LookupCollection opens a collection whose buckets exist (made by
// Collection, Apply or DeclareIndex) and creates nothing: another name is an
// error wrapping storage.ErrNotFound.
func (e *Engine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	err := e.view(ctx, func(tx *bbolt.Tx) error {
		if collectionBucket(tx, name) == nil {
			return fmt.Errorf("bolt: no collection %q: %w", name, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Collection{e: e, name: name}, nil
}

// Collections returns the names of the file's collections, in byte order.
func (e *Engine) Collections(ctx context.Context) ([]string, error) {
	var out []string
	err := e.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCollections).ForEach(func(k, v []byte) error {
			if v == nil { // a nested bucket
				out = append(out, string(k))
			}
			return nil
		})
	})
	return out, err
}

// BadRows calls f for every state and event of a collection that does not
// decode, states first, each in key order. The rows are collected in one
// read transaction and f is called after it ends, so f may write (remove
// the rows, say). A collection that does not exist is storage.ErrNotFound.
func (e *Engine) BadRows(ctx context.Context, collection string, f func(storage.BadRow) error) error {
	var bad []storage.BadRow
	err := e.view(ctx, func(tx *bbolt.Tx) error {
		b := collectionBucket(tx, collection)
		if b == nil {
			return fmt.Errorf("no collection %q: %w", collection, storage.ErrNotFound)
		}
		err := forEachState(b.Bucket(subStates), func(k, raw []byte) (bool, error) {
			if _, err := entity.Decode(raw); err != nil {
				bad = append(bad, storage.BadRow{Collection: collection, Kind: kindState, Key: slices.Clone(k), Err: err})
			}
			return false, ctx.Err()
		})
		if err != nil {
			return err
		}
		return b.Bucket(subEvents).ForEach(func(k, raw []byte) error {
			if _, err := event.Decode(raw); err != nil {
				bad = append(bad, storage.BadRow{Collection: collection, Kind: kindEvent, Key: slices.Clone(k), Err: err})
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return fmt.Errorf("bolt: bad rows of %q: %w", collection, err)
	}
	for _, r := range bad {
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}

// RemoveRow deletes a state (kind "state", key the entity id) with its
// index entries, or an event (kind "event", key the event id) with its link
// to its entity, in one transaction, whether the row decodes or not. The
// index entries of a state that does not decode, and the link of an event
// that does not decode, are found by scanning the collection's index or
// states bucket. A row that is not stored is storage.ErrNotFound.
func (e *Engine) RemoveRow(ctx context.Context, collection, kind string, key []byte) error {
	if kind != kindState && kind != kindEvent {
		return fmt.Errorf("bolt: remove row: kind %q, want %q or %q: %w", kind, kindState, kindEvent, storage.ErrInvalid)
	}
	err := e.update(ctx, func(tx *bbolt.Tx) error {
		b := collectionBucket(tx, collection)
		if b == nil {
			return fmt.Errorf("no collection %q: %w", collection, storage.ErrNotFound)
		}
		if len(key) != id.Size {
			return fmt.Errorf("%s key of %d bytes, want %d: %w", kind, len(key), id.Size, storage.ErrNotFound)
		}
		if kind == kindState {
			return removeState(b, key)
		}
		return removeEvent(b, key)
	})
	if err != nil {
		return fmt.Errorf("bolt: remove %s %x of %q: %w", kind, key, collection, err)
	}
	e.log.InfoContext(ctx, "bolt: row removed", "collection", collection, "kind", kind, "key", fmt.Sprintf("%x", key))
	return nil
}

func removeState(b *bbolt.Bucket, key []byte) error {
	states, index := b.Bucket(subStates), b.Bucket(subIndex)
	raw := states.Get(key)
	if raw == nil {
		return storage.ErrNotFound
	}
	var stale [][]byte
	if s, err := entity.Decode(raw); err == nil && bytes.Equal(s.ID[:], key) {
		err := b.Bucket(subDeclared).ForEach(func(prop, _ []byte) error {
			stale = append(stale, indexKey(keyenc.AppendString(nil, string(prop)), s.Values[string(prop)], s.ID))
			return nil
		})
		if err != nil {
			return err
		}
	} else {
		// Its values are unknown: every entry naming the entity goes.
		err := index.ForEach(func(k, _ []byte) error {
			if bytes.HasSuffix(k, key) {
				stale = append(stale, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, k := range stale {
		if err := index.Delete(k); err != nil {
			return err
		}
	}
	return states.Delete(key)
}

func removeEvent(b *bbolt.Bucket, key []byte) error {
	states, events := b.Bucket(subStates), b.Bucket(subEvents)
	raw := events.Get(key)
	if raw == nil {
		return storage.ErrNotFound
	}
	var links [][]byte
	if ev, err := event.Decode(raw); err == nil {
		links = append(links, append(slices.Clone(ev.Entity[:]), key...))
	} else {
		// Its entity is unknown: find the link by its event id.
		err := states.ForEach(func(k, _ []byte) error {
			if len(k) == 2*id.Size && bytes.Equal(k[id.Size:], key) {
				links = append(links, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, k := range links {
		if err := states.Delete(k); err != nil {
			return err
		}
	}
	return events.Delete(key)
}
