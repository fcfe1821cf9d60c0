// Package pebblekv is an Ankurah storage engine on Pebble
// (github.com/cockroachdb/pebble), CockroachDB's embedded LSM key-value
// store: an example of how little a store needs to become a complete
// storage.Engine with core/storage/kv. Everything below is the adapter;
// head checks, event links, indexes, scans, repair and the format version
// come from the toolkit.
package pebblekv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// Open opens (or creates) the Pebble database in dir as a storage engine.
// Batches are written with fsync unless noSync.
func Open(ctx context.Context, dir string, noSync bool) (*kv.Engine, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		return nil, fmt.Errorf("pebblekv: open %s: %w", dir, err)
	}
	wo := pebble.Sync
	if noSync {
		wo = pebble.NoSync
	}
	e, err := kv.New(ctx, &store{db: db, wo: wo}, kv.WithName("pebblekv"))
	if err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

// store is Pebble as a kv.Store. Pebble has atomic batches but no
// transactions, so Updates take turns (mu): reads of an Update see the
// committed database, which only Updates change.
type store struct {
	db *pebble.DB
	wo *pebble.WriteOptions
	mu sync.Mutex
}

func (s *store) View(_ context.Context, fn func(kv.Reader) error) error {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	return fn(reader{snap})
}

func (s *store) Update(_ context.Context, fn func(kv.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	if err := fn(tx{reader{s.db}, b}); err != nil {
		return err
	}
	return b.Commit(s.wo)
}

func (s *store) Close() error { return s.db.Close() }

type reader struct{ r pebble.Reader }

func (r reader) Get(_ context.Context, key []byte) ([]byte, error) {
	v, closer, err := r.r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return slices.Clone(v), nil
}

func (r reader) Scan(_ context.Context, lo, hi []byte, reverse bool, f func(k, v []byte) (bool, error)) error {
	it, err := r.r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	step := it.Next
	ok := it.First()
	if reverse {
		step, ok = it.Prev, it.Last()
	}
	for ; ok; ok = step() {
		if stop, err := f(it.Key(), it.Value()); err != nil || stop {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

type tx struct {
	reader
	b *pebble.Batch
}

func (t tx) Set(key, value []byte) error { return t.b.Set(key, value, nil) }
func (t tx) Delete(key []byte) error     { return t.b.Delete(key, nil) }

// quiet drops Pebble's informational logs.
type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
