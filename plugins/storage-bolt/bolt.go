// Package bolt is Ankurah's embedded storage engine: a storage.Engine and
// storage.Indexer kept in one bbolt (go.etcd.io/bbolt) file.
//
// Every Apply is one bbolt read-write transaction, so a batch is durable when
// Apply returns (unless WithNoSync) and a crash never leaves half a batch.
// States and events are stored as their canonical CBOR. Declared indexes are
// kept as keyenc keys and serve equality, IN, range and LIKE-prefix terms and
// ORDER BY; whatever an index cannot answer is finished by storage.Residual,
// so an index changes how fast an answer comes, never the answer.
//
// # File layout
//
//	meta                       "format" -> format version (uint32, big-endian)
//	collections/<name>/states  entity id -> canonical CBOR of entity.State
//	                           entity id ‖ event id -> (empty): the entity's events
//	collections/<name>/events  event id -> canonical CBOR of event.Event
//	collections/<name>/indexes property -> (empty): declared indexes
//	collections/<name>/index   keyenc.AppendString(property) ‖ keyenc.Append(value) ‖ entity id -> (empty)
//
// An entity's event links sit next to its state, so creating an entity dirties
// one leaf page of the states tree rather than one in each of two trees
// (bbolt rewrites every page a transaction touches). A missing property is
// indexed as NULL, so an index holds every entity of
// its collection and can serve ORDER BY on its own.
//
// # Undecodable rows
//
// A stored state or event that does not decode (written by an older build,
// or damaged) never makes its collection unreadable: fetches, event reads
// and index builds skip it and report it through storage.ReportBadRow;
// GetState of it fails with storage.ErrFormat. The Engine is a
// storage.Repairer (BadRows lists such rows, RemoveRow removes one; see
// `ankurah admin`) and a storage.CollectionLooker, so reads naming an
// unknown collection create no buckets.
package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
)

// FormatVersion is the on-disk format this package writes. A file with a
// newer version is refused with an error wrapping storage.ErrFormat.
const FormatVersion = 1

// ErrLocked is wrapped by Open's error when another process (or another
// Engine in this one) holds the file.
var ErrLocked = errors.New("bolt: database file is locked")

var (
	bucketMeta        = []byte("meta")
	bucketCollections = []byte("collections")
	keyFormat         = []byte("format")

	subStates   = []byte("states")
	subEvents   = []byte("events")
	subDeclared = []byte("indexes")
	subIndex    = []byte("index")
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

// Engine is a bolt-backed storage.Engine. It is safe for concurrent use:
// readers run in parallel, batches one at a time.
type Engine struct {
	db     *bbolt.DB
	path   string
	log    *slog.Logger
	closed atomic.Bool
}

var (
	_ storage.Engine  = (*Engine)(nil)
	_ storage.Indexer = (*Engine)(nil)
)

// Open opens the database file at path, creating it if needed. It fails with
// an error wrapping ErrLocked when another process holds the file, and with
// one wrapping storage.ErrFormat when the file is not an Ankurah bolt
// database or was written by a newer version of this package.
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
	if err := db.Update(checkFormat); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	o.logger.Debug("bolt: opened", "path", path, "format", FormatVersion, "nosync", o.noSync)
	return &Engine{db: db, path: path, log: o.logger}, nil
}

// checkFormat stamps a new file with FormatVersion and refuses files of
// another format.
func checkFormat(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		foreign := false
		_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { foreign = true; return nil })
		if foreign {
			return fmt.Errorf("a bolt file without Ankurah's meta bucket, not an Ankurah database: %w", storage.ErrFormat)
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, binary.BigEndian.AppendUint32(nil, FormatVersion)); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketCollections)
		return err
	}
	raw := meta.Get(keyFormat)
	if len(raw) != 4 {
		return fmt.Errorf("format version record of %d bytes, want 4: %w", len(raw), storage.ErrFormat)
	}
	switch v := binary.BigEndian.Uint32(raw); {
	case v > FormatVersion:
		return fmt.Errorf("format version %d is newer than this engine's %d; upgrade ankurah-go/plugins/storage-bolt: %w", v, FormatVersion, storage.ErrFormat)
	case v < FormatVersion:
		return fmt.Errorf("format version %d is older than this engine's %d and has no upgrade path: %w", v, FormatVersion, storage.ErrFormat)
	}
	if tx.Bucket(bucketCollections) == nil {
		return fmt.Errorf("collections bucket missing: %w", storage.ErrFormat)
	}
	return nil
}

// Path returns the file the engine keeps its data in.
func (e *Engine) Path() string { return e.path }

// Close closes the file. Later calls on the engine fail with storage.ErrClosed.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("bolt: close %s: %w", e.path, err)
	}
	return nil
}

// view runs fn in a read transaction.
func (e *Engine) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := e.ready(ctx); err != nil {
		return err
	}
	return closedErr(e.db.View(fn))
}

// update runs fn in a read-write transaction, committed if fn returns nil.
func (e *Engine) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := e.ready(ctx); err != nil {
		return err
	}
	return closedErr(e.db.Update(fn))
}

func (e *Engine) ready(ctx context.Context) error {
	if e.closed.Load() {
		return fmt.Errorf("bolt: %s: %w", e.path, storage.ErrClosed)
	}
	return ctx.Err()
}

func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("bolt: %w", storage.ErrClosed)
	}
	return err
}

// collectionBucket returns a collection's bucket, nil if it does not exist.
func collectionBucket(tx *bbolt.Tx, name string) *bbolt.Bucket {
	return tx.Bucket(bucketCollections).Bucket([]byte(name))
}

// createCollection returns a collection's bucket, creating it and its
// sub-buckets if needed.
func createCollection(tx *bbolt.Tx, name string) (*bbolt.Bucket, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if b := collectionBucket(tx, name); b != nil {
		return b, nil
	}
	b, err := tx.Bucket(bucketCollections).CreateBucket([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("bolt: create collection %q: %w", name, err)
	}
	for _, sub := range [][]byte{subStates, subEvents, subDeclared, subIndex} {
		if _, err := b.CreateBucket(sub); err != nil {
			return nil, fmt.Errorf("bolt: create collection %q: %w", name, err)
		}
	}
	return b, nil
}

func validName(name string) error {
	if name == "" {
		return fmt.Errorf("bolt: empty collection name: %w", storage.ErrInvalid)
	}
	if len(name) > bbolt.MaxKeySize {
		return fmt.Errorf("bolt: collection name of %d bytes, limit %d: %w", len(name), bbolt.MaxKeySize, storage.ErrInvalid)
	}
	return nil
}

// isStateKey tells a state's key (an entity id) from an event link's key
// (entity id ‖ event id) in a states bucket.
func isStateKey(k []byte) bool { return len(k) == id.Size }

// forEachState calls fn with every stored state of a states bucket in
// entity-id order, skipping event links, until fn stops or fails.
func forEachState(states *bbolt.Bucket, fn func(k, raw []byte) (stop bool, err error)) error {
	cur := states.Cursor()
	k, raw := cur.First()
	for k != nil {
		if !isStateKey(k) {
			// Jump over the rest of this entity's links in one seek.
			k, raw = cur.Seek(keyenc.PrefixEnd(k[:id.Size]))
			continue
		}
		if stop, err := fn(k, raw); err != nil || stop {
			return err
		}
		k, raw = cur.Next()
	}
	return nil
}
