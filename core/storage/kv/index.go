package kv

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// A declared index lives in the store, so every engine sharing it sees it.
// It is declared 'b' (building) first: from then on every Apply maintains
// its entries. The stored states are then indexed in batches, each batch
// also rewriting the states it indexed, so that an Apply that began before
// the declaration and commits over one of them conflicts with it (and, run
// again, sees the declaration). When every batch is done the index turns 'r'
// (ready), and only then do fetches use it.

// DeclareIndex declares a secondary index on a property of a collection and
// indexes the states already stored. Declaring an existing index is a no-op.
// Only a property name can be indexed (not a JSON path into one). Stored
// states that do not decode are left out of the index (and reported through
// storage.ReportBadRow), as fetches leave them out.
func (e *Engine) DeclareIndex(ctx context.Context, ix storage.Index) error {
	if err := e.validName("collection", ix.Collection); err != nil {
		return err
	}
	if err := e.validName("property", ix.Property); err != nil {
		return err
	}
	declKey := e.keys.indexDecl(ix.Collection, ix.Property)
	ready := false
	err := e.update(ctx, func(tx Tx) error {
		got, err := tx.Get(ctx, declKey)
		if err != nil {
			return err
		}
		if got != nil {
			ready = got[0] == indexReady
			return nil
		}
		return tx.Set(declKey, append([]byte{indexBuilding}, ix.Property...))
	})
	if err == nil && !ready {
		if mutant != mutNoBackfill {
			err = e.backfill(ctx, ix)
		}
		if err == nil {
			err = e.update(ctx, func(tx Tx) error { return tx.Set(declKey, append([]byte{indexReady}, ix.Property...)) })
		}
	}
	if err != nil {
		return fmt.Errorf("%s: declare index on %s.%s: %w", e.cfg.name, ix.Collection, ix.Property, err)
	}
	e.cfg.log.DebugContext(ctx, e.cfg.name+": index declared", "collection", ix.Collection, "property", ix.Property)
	return nil
}

// backfill indexes the stored states of ix's collection, one batch per transaction.
func (e *Engine) backfill(ctx context.Context, ix storage.Index) error {
	prefix := e.keys.coll(tagState, ix.Collection, 0)
	end := keyenc.PrefixEnd(prefix)
	ixPrefix := e.keys.index(ix.Collection, ix.Property)
	for cursor := prefix; cursor != nil; {
		var next []byte
		err := e.update(ctx, func(tx Tx) error {
			next = nil
			var rows [][2][]byte
			err := tx.Scan(ctx, cursor, end, false, func(k, v []byte) (bool, error) {
				if len(rows) == e.cfg.batch {
					next = slices.Clone(k) // the next transaction starts here
					return true, nil
				}
				rows = append(rows, [2][]byte{slices.Clone(k), slices.Clone(v)})
				return false, nil
			})
			if err != nil {
				return err
			}
			for _, row := range rows {
				s, err := entity.Decode(row[1])
				if err != nil {
					// Fetches skip it too; RemoveRow needs no entry to remove.
					eid, _ := trailingID(row[0])
					e.skip(ctx, ix.Collection, kindState, eid[:], err)
					continue
				}
				if err := tx.Set(indexEntry(ixPrefix, s.Values.Get(ix.Property), s.ID), present); err != nil {
					return err
				}
				// Rewritten so that a concurrent Apply over it conflicts (see above).
				if err := tx.Set(row[0], row[1]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("indexing: %w", err)
		}
		if mutant == mutBackfillFirstBatchOnly {
			return nil
		}
		cursor = next
	}
	return nil
}

// indexDecls returns the declared indexes of a collection: property ->
// indexBuilding or indexReady.
func (e *Engine) indexDecls(ctx context.Context, r Reader, coll string) (map[string]byte, error) {
	prefix := e.keys.coll(tagIndexDecl, coll, 0)
	out := map[string]byte{}
	err := r.Scan(ctx, prefix, keyenc.PrefixEnd(prefix), false, func(_, v []byte) (bool, error) {
		if len(v) < 2 || (v[0] != indexBuilding && v[0] != indexReady) {
			return false, fmt.Errorf("index declaration %q of %s: %w", v, coll, storage.ErrFormat)
		}
		out[strings.Clone(string(v[1:]))] = v[0]
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading index declarations of %s: %w", coll, err)
	}
	return out, nil
}
