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
// storage.CollectionLooker, storage.KeepingClearer and storage.ChangeFeed.
//
// # Handles and the change feed
//
// bbolt locks its file, so one process opens it once: Open returns the
// first handle, and Engine.Share another handle on the same open file, so
// that several nodes of one process (core.WithSharedStorage) share one
// store. Each handle closes on its own; the file closes with the last one.
//
// Every handle is a storage.ChangeFeed over every batch any handle of the
// file commits: each Apply appends its states to the toolkit's change log
// (kv.WithChangeFeed) in its own transaction, numbered in commit order
// (bbolt runs one write transaction at a time, so the numbering never
// contends). Every commit wakes the followers of every handle at once; none
// polls. The log keeps the last DefaultFeedRetention batches
// (WithFeedRetention); a follower further behind gets storage.ErrFeedGap.
// Tokens are 24 bytes (the log's identity and a batch number) and stay
// valid across closing and reopening the file, so a follower resumes where
// it stopped. Other processes cannot open the file while it is open, so
// the feed never carries another process's commits.
//
// # File layout
//
// Format 2: one bucket "kv" holds the toolkit's keys, including its format
// version and the change log. A file of format 1 (a bucket per collection,
// written by releases before the toolkit) is rewritten as format 2 when Open
// first meets it, in one transaction (see upgrade.go); releases before then
// refuse format 2 files with their "unsupported format" error. A format 2
// file written before the change log gets its log when Open first meets it
// (the log holds batches committed from then on).
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
// Open of this one: use Engine.Share for a second handle) holds the file.
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
	retention   int
	noFeed      bool // tests only: the baseline of the feed's cost (export_test.go)
}

// DefaultFeedRetention is how many committed batches the change log keeps
// without WithFeedRetention. Each kept batch holds the states it wrote, so
// the log takes about this many batches' worth of states on disk.
const DefaultFeedRetention = 10_000

// WithFeedRetention keeps the last n committed batches for followers of the
// change feed (DefaultFeedRetention when n < 1). A follower further behind
// gets storage.ErrFeedGap. Lowering it shrinks a longer log a few batches
// per commit.
func WithFeedRetention(n int) Option {
	return func(o *options) {
		o.retention = n
		if n < 1 {
			o.retention = DefaultFeedRetention
		}
	}
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

// Engine is one handle on a bolt file: a storage.Engine (a kv.Engine on the
// file) and a storage.ChangeFeed. It is safe for concurrent use: readers
// run in parallel, batches (of every handle of the file) one at a time;
// Close waits for calls in progress.
type Engine struct {
	*kv.Engine
	feed *kv.FeedEngine
	f    *file
	// closed is guarded by f.mu: a closed handle cannot Share.
	closed bool
}

var _ storage.ChangeFeed = (*Engine)(nil)

// file is the open database every handle of it shares.
type file struct {
	db   *bbolt.DB
	path string
	opts options

	mu   sync.Mutex
	open int // handles whose store is not closed; at 0 the file closes

	sigMu sync.Mutex
	sig   chan struct{} // closed (and replaced) after each commit
}

func (f *file) signal() {
	f.sigMu.Lock()
	close(f.sig)
	f.sig = make(chan struct{})
	f.sigMu.Unlock()
}

// Collection reads one collection of an Engine.
type Collection = kv.Collection

// Open opens the database file at path, creating it if needed. It fails with
// an error wrapping ErrLocked when another process holds the file, and with
// one wrapping storage.ErrFormat when the file is not an Ankurah bolt
// database or was written in another format.
func Open(ctx context.Context, path string, opts ...Option) (*Engine, error) {
	o := options{lockTimeout: time.Second, logger: slog.Default(), retention: DefaultFeedRetention}
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
	f := &file{db: db, path: path, opts: o, open: 1, sig: make(chan struct{})}
	e, err := f.handle(ctx)
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	o.logger.Debug("bolt: opened", "path", path, "format", FormatVersion, "nosync", o.noSync)
	return e, nil
}

// handle makes an engine on f, for which the caller counted one more open
// handle; on failure it uncounts it.
func (f *file) handle(ctx context.Context) (*Engine, error) {
	opts := []kv.Option{kv.WithName("bolt"), kv.WithLogger(f.opts.logger)}
	if !f.opts.noFeed {
		opts = append(opts, kv.WithChangeFeed(f.opts.retention))
	}
	st := &store{f: f}
	e, err := kv.New(ctx, st, opts...)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &Engine{Engine: e, feed: e.Feed(), f: f}, nil
}

// Share returns another handle on e's open file: it sees and writes the
// same data, follows the same change feed and closes on its own (the file
// closes with its last handle). Options are those of Open. Sharing a closed
// handle fails with storage.ErrClosed.
func (e *Engine) Share(ctx context.Context) (*Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.f.mu.Lock()
	if e.closed {
		e.f.mu.Unlock()
		return nil, fmt.Errorf("bolt: share: %w", storage.ErrClosed)
	}
	e.f.open++
	e.f.mu.Unlock()
	s, err := e.f.handle(ctx)
	if err != nil {
		return nil, fmt.Errorf("bolt: share %s: %w", e.f.path, err)
	}
	return s, nil
}

// Close waits for this handle's calls in progress and closes it; the file
// closes with the last open handle. Later calls on this handle, a second
// Close included, fail with storage.ErrClosed; other handles go on.
func (e *Engine) Close() error {
	e.f.mu.Lock()
	e.closed = true
	e.f.mu.Unlock()
	return e.Engine.Close()
}

// FeedHead returns the token of the latest batch committed through any
// handle of the file; see storage.ChangeFeed.
func (e *Engine) FeedHead(ctx context.Context) (storage.FeedToken, error) {
	if e.feed == nil {
		return nil, fmt.Errorf("bolt: feed head: the engine keeps no change log: %w", storage.ErrInvalid)
	}
	return e.feed.FeedHead(ctx)
}

// Follow calls fn with every batch committed through any handle of the
// file after token, in commit order, waiting for more; see
// storage.ChangeFeed. A token of another file, a malformed one, or one older
// than the log's retention is storage.ErrFeedGap; closing this handle ends
// Follow with storage.ErrClosed.
func (e *Engine) Follow(ctx context.Context, after storage.FeedToken, fn func(storage.FeedBatch) error) error {
	if e.feed == nil {
		return fmt.Errorf("bolt: follow: the engine keeps no change log: %w", storage.ErrInvalid)
	}
	return e.feed.Follow(ctx, after, fn)
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
func (e *Engine) Path() string { return e.f.path }

// store is one handle's view of the file as a kv.Store: the keys of one
// bucket. It sees every commit of the file (a kv.CommitSignaler).
type store struct {
	f      *file
	closed bool // guarded by f.mu
}

var _ kv.CommitSignaler = (*store)(nil)

func (s *store) View(_ context.Context, fn func(kv.Reader) error) error {
	return s.f.db.View(func(tx *bbolt.Tx) error { return fn(bucket{tx.Bucket(bucketKV)}) })
}

func (s *store) Update(_ context.Context, fn func(kv.Tx) error) error {
	err := s.f.db.Update(func(tx *bbolt.Tx) error { return fn(bucket{tx.Bucket(bucketKV)}) })
	if err == nil {
		s.f.signal()
	}
	return err
}

// CommitSignal returns a channel closed after the next commit of any handle.
func (s *store) CommitSignal() <-chan struct{} {
	s.f.sigMu.Lock()
	defer s.f.sigMu.Unlock()
	return s.f.sig
}

// Close releases this handle's hold on the file, closing the file when it
// was the last.
func (s *store) Close() error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f.open--; s.f.open > 0 {
		return nil
	}
	return s.f.db.Close()
}

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
