package tikv

import (
	"context"
	"fmt"
	"strings"

	tikverr "github.com/tikv/client-go/v2/error"
	"github.com/tikv/client-go/v2/txnkv/transaction"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// A declared index lives in the cluster, so every engine sharing the key
// prefix sees it. It is declared 'b' (building) first: from then on every
// Apply that reads the declaration maintains its entries. The existing
// states are then indexed in batches, each batch also rewriting the states
// it indexed so that an Apply that started before the declaration and
// commits over one of them meets a write conflict (and retries, now seeing
// the declaration). When every batch is done the index turns 'r' (ready),
// and only then do queries use it.

// DeclareIndex declares a secondary index on a property of a collection and
// indexes the states already stored. Declaring an existing index is a no-op.
// Only a property name can be indexed (not a JSON path into one). Stored
// states that do not decode are left out of the index (and reported through
// storage.ReportBadRow), as fetches leave them out.
func (e *Engine) DeclareIndex(ctx context.Context, ix storage.Index) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if err := validName("collection", ix.Collection); err != nil {
		return err
	}
	if err := validName("property", ix.Property); err != nil {
		return err
	}
	declKey := e.keys.indexDecl(ix.Collection, ix.Property)
	ready := false
	err := e.update(ctx, "declaring index", func(txn *transaction.KVTxn) error {
		got, err := txn.Get(ctx, declKey)
		if err == nil {
			ready = len(got.Value) > 0 && got.Value[0] == indexReady
			return nil
		}
		if !tikverr.IsErrNotFound(err) {
			return fmt.Errorf("tikv: declaring index %s.%s: %w", ix.Collection, ix.Property, err)
		}
		return txn.Set(declKey, append([]byte{indexBuilding}, ix.Property...))
	})
	if err != nil || ready {
		return err
	}
	if err := e.backfill(ctx, ix); err != nil {
		return err
	}
	return e.update(ctx, "declaring index", func(txn *transaction.KVTxn) error {
		return txn.Set(declKey, append([]byte{indexReady}, ix.Property...))
	})
}

// backfill indexes the stored states of ix's collection, one batch per transaction.
func (e *Engine) backfill(ctx context.Context, ix storage.Index) error {
	prefix := e.keys.coll(tagState, ix.Collection, 0)
	end := keyenc.PrefixEnd(prefix)
	ixPrefix := e.keys.index(ix.Collection, ix.Property)
	cursor := prefix
	for cursor != nil {
		var next []byte
		err := e.update(ctx, "building index", func(txn *transaction.KVTxn) error {
			next = nil
			it, err := txn.Iter(cursor, end)
			if err != nil {
				return err
			}
			defer it.Close()
			n := 0
			for ; it.Valid() && n < e.cfg.batch; n++ {
				k, v := append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)
				if s, err := entity.Decode(v); err != nil {
					// Fetches skip it too; RemoveRow needs no entry to remove.
					eid, _ := trailingID(k)
					e.skip(ctx, ix.Collection, kindState, eid[:], err)
				} else {
					if err := txn.Set(indexEntry(ixPrefix, s.Values[ix.Property], s.ID), present); err != nil {
						return err
					}
					if err := txn.Set(k, v); err != nil { // see the comment at the top of this file
						return err
					}
				}
				if err := it.Next(); err != nil {
					return err
				}
				next = append(k, 0)
			}
			if !it.Valid() {
				next = nil
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("tikv: indexing %s.%s: %w", ix.Collection, ix.Property, err)
		}
		cursor = next
	}
	return nil
}

// indexDecls returns the declared indexes of a collection: property -> state byte.
func (e *Engine) indexDecls(iter iterFunc, coll string) (map[string]byte, error) {
	prefix := e.keys.coll(tagIndexDecl, coll, 0)
	it, err := iter(prefix, keyenc.PrefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("tikv: reading index declarations of %s: %w", coll, err)
	}
	defer it.Close()
	out := map[string]byte{}
	for it.Valid() {
		v := it.Value()
		if len(v) < 2 || (v[0] != indexBuilding && v[0] != indexReady) {
			return nil, fmt.Errorf("%w: tikv: index declaration %q of %s", storage.ErrFormat, v, coll)
		}
		out[strings.Clone(string(v[1:]))] = v[0]
		if err := it.Next(); err != nil {
			return nil, fmt.Errorf("tikv: reading index declarations of %s: %w", coll, err)
		}
	}
	return out, nil
}

// iterFunc opens a forward scan of [k, upper) on a transaction or snapshot.
type iterFunc func(k, upper []byte) (iterator, error)

func txnIter(txn *transaction.KVTxn) iterFunc {
	return func(k, upper []byte) (iterator, error) { return txn.Iter(k, upper) }
}
