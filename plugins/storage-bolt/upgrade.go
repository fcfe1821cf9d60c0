package bolt

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// Format 1 (releases before core/storage/kv) kept, beside a "meta" bucket
// holding "format" -> uint32 big-endian 1:
//
//	collections/<name>/states  entity id -> state; entity id ‖ event id -> (empty)
//	collections/<name>/events  event id -> event
//	collections/<name>/indexes property -> (empty)
//	collections/<name>/index   keyenc.AppendString(property) ‖ keyenc(value) ‖ entity id -> (empty)
//
// upgrade rewrites such a file as format 2 in the transaction that opens it
// (rows are copied as they are, decodable or not), so a crash leaves either
// the old file or the new one.
func upgrade(tx *bbolt.Tx) error {
	raw := tx.Bucket(bucketLegacy).Get([]byte("format"))
	if len(raw) != 4 || binary.BigEndian.Uint32(raw) != 1 {
		return fmt.Errorf("a format record %x this release does not know: %w", raw, storage.ErrFormat)
	}
	colls := tx.Bucket([]byte("collections"))
	if colls == nil {
		return fmt.Errorf("a format 1 file without its collections bucket: %w", storage.ErrFormat)
	}
	out, err := tx.CreateBucket(bucketKV)
	if err != nil {
		return err
	}
	one := []byte{1}
	key := func(tag byte, coll []byte, parts ...[]byte) []byte {
		k := keyenc.AppendString([]byte{tag}, string(coll))
		for _, p := range parts {
			k = append(k, p...)
		}
		return k
	}
	err = colls.ForEachBucket(func(name []byte) error {
		c := colls.Bucket(name)
		states, events, declared, index := c.Bucket([]byte("states")), c.Bucket([]byte("events")), c.Bucket([]byte("indexes")), c.Bucket([]byte("index"))
		if states == nil || events == nil || declared == nil || index == nil {
			return fmt.Errorf("format 1 collection %q lacks a bucket: %w", name, storage.ErrFormat)
		}
		err := states.ForEach(func(k, v []byte) error {
			switch {
			case len(k) == id.Size:
				return out.Put(key('s', name, k), slices.Clone(v))
			case len(k) == 2*id.Size && !slices.Equal(k[:id.Size], k[id.Size:]): // genesis events need no link
				return out.Put(key('h', name, k), one)
			case len(k) == 2*id.Size:
				return nil
			}
			return fmt.Errorf("format 1 state key %x of %q: %w", k, name, storage.ErrFormat)
		})
		if err != nil {
			return err
		}
		if err := events.ForEach(func(k, v []byte) error { return out.Put(key('e', name, k), slices.Clone(v)) }); err != nil {
			return err
		}
		return declared.ForEach(func(prop, _ []byte) error {
			if err := out.Put(key('x', name, keyenc.AppendString(nil, string(prop))), append([]byte{'r'}, prop...)); err != nil {
				return err
			}
			prefix := keyenc.AppendString(nil, string(prop))
			cur := index.Cursor()
			for k, _ := cur.Seek(prefix); k != nil && len(k) >= len(prefix)+id.Size && slices.Equal(k[:len(prefix)], prefix); k, _ = cur.Next() {
				val, eid := k[len(prefix):len(k)-id.Size], k[len(k)-id.Size:]
				if err := out.Put(key('i', name, prefix, val[:min(len(val), kv.MaxIndexedValue)], eid), one); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := out.Put([]byte("v"), []byte(strconv.Itoa(kv.FormatVersion))); err != nil {
		return err
	}
	if err := tx.DeleteBucket([]byte("collections")); err != nil {
		return err
	}
	return tx.DeleteBucket(bucketLegacy)
}
