package bench

import (
	"context"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

func commitLoop(b *testing.B, e storage.Engine) {
	ctx := context.Background()
	n, err := core.NewNode(context.Background(), e, policy.Permissive{})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	c := n.Context(nil)
	trx := c.Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Origin of Symmetry")
	if err := trx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	id := m.ID()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", id)
		if err != nil {
			b.Fatal(err)
		}
		m.Set("year", i)
		if err := trx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit is a single-writer commit through the node on each engine,
// beside a raw bbolt Update writing a state-sized value and an event-sized
// value (what one commit stores), in the same run.
func BenchmarkCommit(b *testing.B) {
	b.Run("node/memory", func(b *testing.B) { commitLoop(b, memory.New()) })
	b.Run("node/bolt", func(b *testing.B) {
		e, err := bolt.Open(context.Background(), filepath.Join(b.TempDir(), "a.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		commitLoop(b, e)
	})
	b.Run("raw-bbolt", func(b *testing.B) {
		db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		state := make([]byte, 220)
		ev := make([]byte, 120)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			err := db.Update(func(tx *bbolt.Tx) error {
				s, err := tx.CreateBucketIfNotExists([]byte("states"))
				if err != nil {
					return err
				}
				e, err := tx.CreateBucketIfNotExists([]byte("events"))
				if err != nil {
					return err
				}
				if err := s.Put([]byte("entity-0000000000000000000000000"), state); err != nil {
					return err
				}
				ev[0], ev[1], ev[2] = byte(i), byte(i>>8), byte(i>>16)
				return e.Put(ev[:32], ev)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
