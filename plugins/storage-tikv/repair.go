package tikv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	tikverr "github.com/tikv/client-go/v2/error"
	"github.com/tikv/client-go/v2/txnkv/transaction"
	"github.com/tikv/client-go/v2/txnkv/txnsnapshot"

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

// skip reports a row a scan leaves out because it does not decode.
func (e *Engine) skip(ctx context.Context, collection, kind string, key []byte, err error) {
	storage.ReportBadRow(ctx, e.cfg.log, storage.BadRow{Collection: collection, Kind: kind, Key: slices.Clone(key), Err: err})
}

// existTags are the tags whose keys make a collection exist: a state, an
// event or an index declaration (event links and index entries never
// outlive those).
var existTags = []byte{tagState, tagEvent, tagIndexDecl}

// LookupCollection opens a collection that exists, which in TiKV means one
// that holds a state, an event or a declared index (Collection writes
// nothing, so a collection only opened does not exist yet). Another name is
// an error wrapping storage.ErrNotFound. It writes nothing.
func (e *Engine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	if err := validName("collection", name); err != nil {
		return nil, err
	}
	snap, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	ok, err := e.exists(snap, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: tikv: no collection %q", storage.ErrNotFound, name)
	}
	return &Collection{e: e, name: name}, nil
}

// exists reports whether a collection holds any key of existTags.
func (e *Engine) exists(snap *txnsnapshot.KVSnapshot, name string) (bool, error) {
	snap.SetKeyOnly(true)
	snap.SetScanBatchSize(1)
	defer func() {
		snap.SetKeyOnly(false)
		snap.SetScanBatchSize(e.cfg.batch)
	}()
	for _, tag := range existTags {
		prefix := e.keys.coll(tag, name, 0)
		it, err := snap.Iter(prefix, keyenc.PrefixEnd(prefix))
		if err != nil {
			return false, fmt.Errorf("tikv: looking up collection %q: %w", name, err)
		}
		found := it.Valid()
		it.Close()
		if found {
			return true, nil
		}
	}
	return false, nil
}

// Collections returns the names of the collections that exist (see
// LookupCollection) under the engine's key prefix, in key order. It reads
// one key per collection and tag, never a whole collection.
func (e *Engine) Collections(ctx context.Context) ([]string, error) {
	snap, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	snap.SetKeyOnly(true)
	snap.SetScanBatchSize(1)
	seen := map[string]bool{}
	for _, tag := range existTags {
		tagPrefix := e.keys.tagged(tag, 0)
		end := keyenc.PrefixEnd(tagPrefix)
		for start := tagPrefix; ; {
			it, err := snap.Iter(start, end)
			if err != nil {
				return nil, fmt.Errorf("tikv: listing collections: %w", err)
			}
			var k []byte
			if it.Valid() {
				k = slices.Clone(it.Key())
			}
			it.Close()
			if k == nil {
				break
			}
			name, err := decodeName(k[len(tagPrefix):])
			if err != nil {
				return nil, fmt.Errorf("%w: tikv: key %x: %v", storage.ErrFormat, k, err)
			}
			seen[name] = true
			start = keyenc.PrefixEnd(e.keys.coll(tag, name, 0))
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
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
	if err := validName("collection", collection); err != nil {
		return err
	}
	snap, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	ok, err := e.exists(snap, collection)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: tikv: no collection %q", storage.ErrNotFound, collection)
	}
	var bad []storage.BadRow
	scan := func(tag byte, kind string, decode func([]byte) error) error {
		prefix := e.keys.coll(tag, collection, 0)
		it, err := snap.Iter(prefix, keyenc.PrefixEnd(prefix))
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Valid() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := decode(it.Value()); err != nil {
				k, _ := trailingID(it.Key())
				bad = append(bad, storage.BadRow{Collection: collection, Kind: kind, Key: slices.Clone(k[:]), Err: err})
			}
			if err := it.Next(); err != nil {
				return err
			}
		}
		return nil
	}
	if err := scan(tagState, kindState, func(b []byte) error { _, err := entity.Decode(b); return err }); err != nil {
		return fmt.Errorf("tikv: bad rows of %q: %w", collection, err)
	}
	if err := scan(tagEvent, kindEvent, func(b []byte) error { _, err := event.Decode(b); return err }); err != nil {
		return fmt.Errorf("tikv: bad rows of %q: %w", collection, err)
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
		return fmt.Errorf("%w: tikv: remove row: kind %q, want %q or %q", storage.ErrInvalid, kind, kindState, kindEvent)
	}
	if err := e.checkOpen(); err != nil {
		return err
	}
	if err := validName("collection", collection); err != nil {
		return err
	}
	if len(key) != id.Size {
		return fmt.Errorf("%w: tikv: %s key of %d bytes in %q, want %d", storage.ErrNotFound, kind, len(key), collection, id.Size)
	}
	what := fmt.Sprintf("removing %s %x of %q", kind, key, collection)
	err := e.update(ctx, what, func(txn *transaction.KVTxn) error {
		if kind == kindState {
			return e.removeState(ctx, txn, collection, id.EntityID(key))
		}
		return e.removeEvent(ctx, txn, collection, id.EventID(key))
	})
	if err != nil {
		return fmt.Errorf("tikv: %s: %w", what, err)
	}
	e.cfg.log.InfoContext(ctx, "tikv: row removed", "collection", collection, "kind", kind, "key", fmt.Sprintf("%x", key))
	return nil
}

func (e *Engine) removeState(ctx context.Context, txn *transaction.KVTxn, coll string, eid id.EntityID) error {
	k := e.keys.state(coll, eid)
	got, err := txn.Get(ctx, k)
	if tikverr.IsErrNotFound(err) {
		return storage.ErrNotFound
	}
	if err != nil {
		return err
	}
	var stale [][]byte
	if s, derr := entity.Decode(got.Value); derr == nil && s.ID == eid {
		decls, err := e.indexDecls(txnIter(txn), coll)
		if err != nil {
			return err
		}
		for prop := range decls {
			stale = append(stale, indexEntry(e.keys.index(coll, prop), s.Values[prop], eid))
		}
	} else {
		// Its values are unknown: every entry naming the entity goes.
		if stale, err = scanTrailing(txn, e.keys.coll(tagIndex, coll, 0), eid); err != nil {
			return err
		}
	}
	for _, ik := range stale {
		if err := txn.Delete(ik); err != nil {
			return err
		}
	}
	return txn.Delete(k)
}

func (e *Engine) removeEvent(ctx context.Context, txn *transaction.KVTxn, coll string, evID id.EventID) error {
	k := e.keys.event(coll, evID)
	got, err := txn.Get(ctx, k)
	if tikverr.IsErrNotFound(err) {
		return storage.ErrNotFound
	}
	if err != nil {
		return err
	}
	var links [][]byte
	if ev, derr := event.Decode(got.Value); derr == nil {
		links = [][]byte{e.keys.entityEvent(coll, ev.Entity, evID)}
	} else {
		// Its entity is unknown: find the link by its event id.
		if links, err = scanTrailing(txn, e.keys.coll(tagEntityEvent, coll, 0), evID); err != nil {
			return err
		}
	}
	for _, lk := range links {
		if err := txn.Delete(lk); err != nil {
			return err
		}
	}
	return txn.Delete(k)
}

// scanTrailing returns the keys under prefix that end in the id x.
func scanTrailing(txn *transaction.KVTxn, prefix []byte, x [id.Size]byte) ([][]byte, error) {
	it, err := txn.Iter(prefix, keyenc.PrefixEnd(prefix))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out [][]byte
	for it.Valid() {
		if k := it.Key(); bytes.HasSuffix(k, x[:]) {
			out = append(out, slices.Clone(k))
		}
		if err := it.Next(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
