// Package bolt is Ankurah's embedded storage engine: a storage.Engine kept in
// one bbolt (go.etcd.io/bbolt) file, built on the key-value toolkit
// core/storage/kv (which does the head checks, event links, index upkeep and
// scans; see its documentation for the key layout).
//
// Every Apply is one bbolt read-write transaction, so a batch is durable when
// Apply returns (unless WithNoSync) and a crash never leaves half a batch.
// States and events are stored as their canonical CBOR. Declared indexes are
// kept as keyenc keys and serve equality, IN, range and LIKE-prefix terms and
// ORDER BY; whatever an index cannot answer is finished by the compiled
// selection, so an index changes how fast an answer comes, never the answer.
// The Engine is also a storage.Indexer, storage.Repairer (`ankurah admin`),
// storage.CollectionLooker and storage.KeepingClearer.
//
// # File layout
//
// Format 2: one bucket "kv" holds the toolkit's keys, including its format
// version. A file of format 1 (a bucket per collection, written by releases
// before the toolkit) is rewritten as format 2 when Open first meets it, in
// one transaction (see upgrade.go); releases before then refuse format 2
// files with their "unsupported format" error.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// FormatVersion is the on-disk format this package writes. A file with
// another version is refused with an error wrapping storage.ErrFormat.
const FormatVersion = kv.FormatVersion

// ErrLocked is wrapped by Open's error when another process (or another
// Engine in this one) holds the file.
var ErrLocked = errors.New("bolt: database file is locked")

var (
	bucketKV     = []byte("kv")
	bucketLegacy = []byte("meta") // format 1
)

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
	noSync      bool
	logger      *slog.Logger
}

// WithLockTimeout sets how long Open waits for another holder of the file to
// release it before failing with ErrLocked (default 1s; 0 waits forever).
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// WithNoSync skips fsync after each batch: much faster, but a machine crash
// (not just a process crash) can lose acknowledged batches. For tests and
// throwaway data only.
func WithNoSync(noSync bool) Option { return func(o *options) { o.noSync = noSync } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Engine is a bolt-backed storage.Engine (a kv.Engine on the file). It is
// safe for concurrent use: readers run in parallel, batches one at a time;
// Close waits for calls in progress.
type Engine struct {
	*kv.Engine
	path string
}

// Collection reads one collection of an Engine.
type Collection = kv.Collection

// Open opens the database file at path, creating it if needed. It fails with
// an error wrapping ErrLocked when another process holds the file, and with
// one wrapping storage.ErrFormat when the file is not an Ankurah bolt
// database or was written in another format.
func Open(ctx context.Context, path string, opts ...Option) (*Engine, error) {
	o := options{lockTimeout: time.Second, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.lockTimeout, NoSync: o.noSync})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: open %s: another process holds it (waited %v): %w", ErrLocked, path, o.lockTimeout, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("bolt: open %s: not a bolt database file (%v): %w", path, err, storage.ErrFormat)
	case err != nil:
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := db.Update(prepare); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	e, err := kv.New(ctx, store{db}, kv.WithName("bolt"), kv.WithLogger(o.logger))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	o.logger.Debug("bolt: opened", "path", path, "format", FormatVersion, "nosync", o.noSync)
	return &Engine{Engine: e, path: path}, nil
}

// prepare makes the kv bucket of a new file, upgrades a format 1 file and
// refuses foreign ones.
func prepare(tx *bbolt.Tx) error {
	if tx.Bucket(bucketKV) != nil {
		return nil
	}
	if tx.Bucket(bucketLegacy) != nil {
		if err := upgrade(tx); err != nil {
			return fmt.Errorf("upgrading from format 1: %w", err)
		}
		return nil
	}
	foreign := false
	_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { foreign = true; return nil })
	if foreign {
		return fmt.Errorf("a bolt file without Ankurah's buckets, not an Ankurah database: %w", storage.ErrFormat)
	}
	_, err := tx.CreateBucket(bucketKV)
	return err
}

// Path returns the file the engine keeps its data in.
func (e *Engine) Path() string { return e.path }

// store is the file as a kv.Store: the keys of one bucket.
type store struct{ db *bbolt.DB }

func (s store) View(_ context.Context, fn func(kv.Reader) error) error {
	return s.db.View(func(tx *bbolt.Tx) error { return fn(bucket{tx.Bucket(bucketKV)}) })
}

func (s store) Update(_ context.Context, fn func(kv.Tx) error) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return fn(bucket{tx.Bucket(bucketKV)}) })
}

func (s store) Close() error { return s.db.Close() }

// bucket reads and writes the kv bucket in one transaction.
type bucket struct{ b *bbolt.Bucket }

func (b bucket) Get(_ context.Context, key []byte) ([]byte, error) { return b.b.Get(key), nil }
func (b bucket) Set(key, value []byte) error                       { return b.b.Put(key, value) }
func (b bucket) Delete(key []byte) error                           { return b.b.Delete(key) }

func (b bucket) Scan(_ context.Context, lo, hi []byte, reverse bool, f func(k, v []byte) (bool, error)) error {
	cur := b.b.Cursor()
	var k, v []byte
	switch {
	case !reverse:
		k, v = cur.Seek(lo)
	case hi == nil:
		k, v = cur.Last()
	default:
		if k, _ = cur.Seek(hi); k == nil {
			k, v = cur.Last()
		} else {
			k, v = cur.Prev()
		}
	}
	for k != nil && bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0) {
		if stop, err := f(k, v); err != nil || stop {
			return err
		}
		if reverse {
			k, v = cur.Prev()
		} else {
			k, v = cur.Next()
		}
	}
	return nil
}
