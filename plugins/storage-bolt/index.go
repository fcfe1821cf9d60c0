package bolt

import (
	"bytes"
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// DeclareIndex declares a secondary index on a property of a collection and
// builds it for the entities already stored, in one transaction. The
// declaration is kept in the file; declaring an existing index is a no-op.
// Stored states that do not decode are left out of the index (and reported
// through storage.ReportBadRow), as fetches leave them out.
func (e *Engine) DeclareIndex(ctx context.Context, ix storage.Index) error {
	if ix.Property == "" {
		return fmt.Errorf("bolt: index on collection %q: empty property name: %w", ix.Collection, storage.ErrInvalid)
	}
	if len(ix.Property) > bbolt.MaxKeySize/2 {
		return fmt.Errorf("bolt: index on %s.%s: property name of %d bytes is too long: %w", ix.Collection, ix.Property, len(ix.Property), storage.ErrInvalid)
	}
	err := e.update(ctx, func(tx *bbolt.Tx) error {
		c, err := createCollection(tx, ix.Collection)
		if err != nil {
			return err
		}
		declared := c.Bucket(subDeclared)
		if declared.Get([]byte(ix.Property)) != nil {
			return nil
		}
		if err := declared.Put([]byte(ix.Property), nil); err != nil {
			return err
		}
		index := c.Bucket(subIndex)
		prefix := keyenc.AppendString(nil, ix.Property)
		return forEachState(c.Bucket(subStates), func(k, raw []byte) (bool, error) {
			s, err := entity.Decode(raw)
			if err != nil {
				// Fetches skip it too; RemoveRow needs no entry to remove.
				e.skip(ctx, ix.Collection, "state", k, err)
				return false, nil
			}
			return false, index.Put(indexKey(prefix, s.Values[ix.Property], s.ID), nil)
		})
	})
	if err != nil {
		return fmt.Errorf("bolt: declare index on %s.%s: %w", ix.Collection, ix.Property, err)
	}
	e.log.Debug("bolt: index declared", "collection", ix.Collection, "property", ix.Property)
	return nil
}

// indexKey is property prefix ‖ encoded value ‖ entity id.
func indexKey(prefix []byte, v value.Value, e id.EntityID) []byte {
	k := make([]byte, 0, len(prefix)+16+id.Size)
	k = keyenc.Append(append(k, prefix...), v)
	return append(k, e[:]...)
}

// updateIndexes moves s's entries in the declared indexes (key prefixes by
// property) from old's values (nil: not stored before) to s's.
func updateIndexes(index *bbolt.Bucket, prefixes map[string][]byte, old, s *entity.State) error {
	for prop, prefix := range prefixes {
		next := indexKey(prefix, s.Values[prop], s.ID)
		if old != nil {
			prev := indexKey(prefix, old.Values[prop], old.ID)
			if bytes.Equal(prev, next) {
				continue
			}
			if err := index.Delete(prev); err != nil {
				return err
			}
		}
		if err := index.Put(next, nil); err != nil {
			return err
		}
	}
	return nil
}
