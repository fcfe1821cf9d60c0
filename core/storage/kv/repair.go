package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// existTags are the tags whose keys make a collection exist (event links
// and index entries never outlive those).
var existTags = []byte{tagState, tagEvent, tagIndexDecl}

// LookupCollection opens a collection that exists: one that holds a state,
// an event or a declared index. Another name is an error wrapping
// storage.ErrNotFound. It writes nothing.
func (e *Engine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	if err := e.validName("collection", name); err != nil {
		return nil, err
	}
	err := e.view(ctx, func(r Reader) error {
		ok, err := e.exists(ctx, r, name)
		if err == nil && !ok && mutant != mutLookupFindsUnknown {
			err = fmt.Errorf("%s: no collection %q: %w", e.cfg.name, name, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Collection{e: e, name: name}, nil
}

// first returns the first key in [lo, hi), nil when there is none.
func first(ctx context.Context, r Reader, lo, hi []byte) ([]byte, error) {
	var k []byte
	err := r.Scan(ctx, lo, hi, false, func(key, _ []byte) (bool, error) {
		k = slices.Clone(key)
		return true, nil
	})
	return k, err
}

// exists reports whether a collection holds any key of existTags.
func (e *Engine) exists(ctx context.Context, r Reader, name string) (bool, error) {
	for _, tag := range existTags {
		prefix := e.keys.coll(tag, name, 0)
		k, err := first(ctx, r, prefix, keyenc.PrefixEnd(prefix))
		if err != nil {
			return false, fmt.Errorf("%s: looking up collection %q: %w", e.cfg.name, name, err)
		}
		if k != nil {
			return true, nil
		}
	}
	return false, nil
}

// Collections returns the names of the collections that exist (see
// LookupCollection), in byte order. It reads one key per collection and
// tag, never a whole collection.
func (e *Engine) Collections(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	err := e.view(ctx, func(r Reader) error {
		for _, tag := range existTags {
			tagPrefix := e.keys.tagged(tag, 0)
			end := keyenc.PrefixEnd(tagPrefix)
			for start := tagPrefix; ; {
				k, err := first(ctx, r, start, end)
				if err != nil {
					return err
				}
				if k == nil {
					break
				}
				name, err := decodeName(k[len(tagPrefix):])
				if err != nil {
					return fmt.Errorf("key %x: %v: %w", k, err, storage.ErrFormat)
				}
				seen[name] = true
				start = keyenc.PrefixEnd(e.keys.coll(tag, name, 0))
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: listing collections: %w", e.cfg.name, err)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// decodeName reads a keyenc.AppendString name off the start of b.
func decodeName(b []byte) (string, error) {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 == len(b) {
			break
		}
		switch b[i+1] {
		case 0x01:
			return string(out), nil
		case 0xFF:
			out = append(out, 0)
			i++
			continue
		}
		return "", fmt.Errorf("bad escape 0x00 0x%02x in a name", b[i+1])
	}
	return "", errors.New("unterminated name")
}

// BadRows calls f for every state and then every event of a collection that
// does not decode, in key order, reading one snapshot; f is called after
// the scan, so it may write (remove the rows, say). A collection that does
// not exist (see LookupCollection) is storage.ErrNotFound.
func (e *Engine) BadRows(ctx context.Context, collection string, f func(storage.BadRow) error) error {
	if err := e.validName("collection", collection); err != nil {
		return err
	}
	var bad []storage.BadRow
	err := e.view(ctx, func(r Reader) error {
		ok, err := e.exists(ctx, r, collection)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no collection %q: %w", collection, storage.ErrNotFound)
		}
		scan := func(tag byte, kind string, decode func([]byte) error) error {
			prefix := e.keys.coll(tag, collection, 0)
			return r.Scan(ctx, prefix, keyenc.PrefixEnd(prefix), false, func(k, v []byte) (bool, error) {
				if err := decode(v); err != nil {
					key, _ := trailingID(k)
					bad = append(bad, storage.BadRow{Collection: collection, Kind: kind, Key: slices.Clone(key[:]), Err: err})
				}
				return false, ctx.Err()
			})
		}
		if err := scan(tagState, kindState, func(b []byte) error { _, err := entity.Decode(b); return err }); err != nil {
			return err
		}
		return scan(tagEvent, kindEvent, func(b []byte) error { _, err := event.Decode(b); return err })
	})
	if err != nil {
		return fmt.Errorf("%s: bad rows of %q: %w", e.cfg.name, collection, err)
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
// link keys. A row that is not stored is storage.ErrNotFound.
func (e *Engine) RemoveRow(ctx context.Context, collection, kind string, key []byte) error {
	if kind != kindState && kind != kindEvent {
		return fmt.Errorf("%s: remove row: kind %q, want %q or %q: %w", e.cfg.name, kind, kindState, kindEvent, storage.ErrInvalid)
	}
	if err := e.validName("collection", collection); err != nil {
		return err
	}
	err := e.update(ctx, func(tx Tx) error {
		if len(key) != id.Size {
			return fmt.Errorf("%s key of %d bytes, want %d: %w", kind, len(key), id.Size, storage.ErrNotFound)
		}
		if kind == kindState {
			return e.removeState(ctx, tx, collection, id.EntityID(key))
		}
		return e.removeEvent(ctx, tx, collection, id.EventID(key))
	})
	if err != nil {
		return fmt.Errorf("%s: remove %s %x of %q: %w", e.cfg.name, kind, key, collection, err)
	}
	e.cfg.log.InfoContext(ctx, e.cfg.name+": row removed", "collection", collection, "kind", kind, "key", fmt.Sprintf("%x", key))
	return nil
}

func (e *Engine) removeState(ctx context.Context, tx Tx, coll string, eid id.EntityID) error {
	k := e.keys.state(coll, eid)
	raw, err := tx.Get(ctx, k)
	if err != nil {
		return err
	}
	if raw == nil {
		return storage.ErrNotFound
	}
	var stale [][]byte
	if s, derr := entity.Decode(raw); derr == nil && s.ID == eid {
		decls, err := e.indexDecls(ctx, tx, coll)
		if err != nil {
			return err
		}
		for prop := range decls {
			stale = append(stale, indexEntry(e.keys.index(coll, prop), s.Values.Get(prop), eid))
		}
	} else if stale, err = scanTrailing(ctx, tx, e.keys.coll(tagIndex, coll, 0), eid); err != nil {
		return err // (its values are unknown: every entry naming the entity goes)
	}
	if mutant == mutRemoveRowKeepsIndex {
		stale = nil
	}
	for _, ik := range stale {
		if err := tx.Delete(ik); err != nil {
			return err
		}
	}
	return tx.Delete(k)
}

func (e *Engine) removeEvent(ctx context.Context, tx Tx, coll string, evID id.EventID) error {
	k := e.keys.event(coll, evID)
	raw, err := tx.Get(ctx, k)
	if err != nil {
		return err
	}
	if raw == nil {
		return storage.ErrNotFound
	}
	var links [][]byte
	if ev, derr := event.Decode(raw); derr == nil {
		if !ev.IsGenesis() {
			links = [][]byte{e.keys.entityEvent(coll, ev.Entity, evID)}
		} else {
			links = [][]byte{e.keys.entityEvent(coll, id.EntityID(evID), evID)} // format 1 linked it
		}
	} else if links, err = scanTrailing(ctx, tx, e.keys.coll(tagEntityEvent, coll, 0), evID); err != nil {
		return err // (its entity is unknown: find the link by its event id)
	}
	for _, lk := range links {
		if err := tx.Delete(lk); err != nil {
			return err
		}
	}
	return tx.Delete(k)
}

// scanTrailing returns the keys under prefix that end in the id x.
func scanTrailing(ctx context.Context, r Reader, prefix []byte, x [id.Size]byte) ([][]byte, error) {
	var out [][]byte
	err := r.Scan(ctx, prefix, keyenc.PrefixEnd(prefix), false, func(k, _ []byte) (bool, error) {
		if bytes.HasSuffix(k, x[:]) {
			out = append(out, slices.Clone(k))
		}
		return false, ctx.Err()
	})
	return out, err
}

// Clear deletes everything the engine stores (every key under its prefix
// but the format version and the change log), a batch of keys per
// transaction.
func (e *Engine) Clear(ctx context.Context) error { return e.ClearKeeping(ctx) }

// ClearKeeping is Clear but for the named collections, none of whose keys
// (states, events, index declarations and entries) it deletes, so a crash
// between two of its transactions leaves them whole
// (storage.KeepingClearer).
func (e *Engine) ClearKeeping(ctx context.Context, keep ...string) error {
	lo, hi := e.keys.root, keyenc.PrefixEnd(e.keys.root)
	format := e.keys.format()
	var kept [][]byte
	for _, c := range keep {
		for _, tag := range []byte{tagState, tagEvent, tagEntityEvent, tagIndexDecl, tagIndex} {
			kept = append(kept, e.keys.coll(tag, c, 0))
		}
	}
	keeps := func(k []byte) bool {
		for _, p := range kept {
			if bytes.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	for {
		var doomed [][]byte
		err := e.update(ctx, func(tx Tx) error {
			doomed = doomed[:0]
			err := tx.Scan(ctx, lo, hi, false, func(k, _ []byte) (bool, error) {
				tag := k[len(e.keys.root)]
				if !bytes.Equal(k, format) && tag != tagLog && tag != tagLogID && (mutant != mutClearKeepsEvents || tag != tagEvent) && !keeps(k) {
					doomed = append(doomed, slices.Clone(k))
				}
				return len(doomed) == e.cfg.batch*4, nil
			})
			if err != nil {
				return err
			}
			for _, k := range doomed {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: clear: %w", e.cfg.name, err)
		}
		if len(doomed) < e.cfg.batch*4 {
			return nil
		}
	}
}
