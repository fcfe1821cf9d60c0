package kv

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/ankurah/ankurah-go/core/storage"
)

// FormatVersion is the version of the key layout and encodings this package
// writes. A store stamped with a newer version is refused with an error
// wrapping storage.ErrFormat.
const FormatVersion = 2

// DefaultBatchSize is how many keys the engine reads at once (index
// candidates per GetMany) and how many states one backfill transaction
// indexes, without WithBatchSize.
const DefaultBatchSize = 256

// Option configures New.
type Option func(*config)

type config struct {
	prefix    []byte
	name      string
	batch     int
	log       *slog.Logger
	feed      bool
	retention int
}

// WithKeyPrefix puts every key of the engine under prefix, so several
// engines can share one store. No engine's prefix may be a prefix of
// another's (end them with a byte they cannot contain, as storage-tikv ends
// its prefixes with 0x00).
func WithKeyPrefix(prefix []byte) Option {
	return func(c *config) { c.prefix = slices.Clone(prefix) }
}

// WithName sets the name errors and logs start with (default "kv"): the
// adapter's package name.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithBatchSize sets how many keys the engine reads at once and how many
// states one backfill transaction indexes (default DefaultBatchSize).
// Values below 1 are refused by New.
func WithBatchSize(n int) Option { return func(c *config) { c.batch = n } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// Engine is a storage.Engine over a Store. It is a storage.Indexer,
// storage.CollectionLooker, storage.Repairer, storage.KeepingClearer and
// storage.Explainer. It is safe for concurrent use as far as its Store is; Close waits for the calls in
// progress and then refuses more with storage.ErrClosed.
type Engine struct {
	store Store
	keys  layout
	cfg   config

	mu     sync.RWMutex // held shared by every call, exclusively by Close
	closed bool

	logID    []byte        // the change log's identity; nil: the store keeps none
	feedMu   sync.Mutex    // guards feedWake
	feedWake chan struct{} // closed (and replaced) after each commit of this handle
	feedDone chan struct{} // closed by Close
}

var (
	_ storage.Engine           = (*Engine)(nil)
	_ storage.Indexer          = (*Engine)(nil)
	_ storage.CollectionLooker = (*Engine)(nil)
	_ storage.Repairer         = (*Engine)(nil)
	_ storage.Clearer          = (*Engine)(nil)
	_ storage.KeepingClearer   = (*Engine)(nil)
	_ storage.Explainer        = (*Engine)(nil)
)

// New returns an engine over store. It stamps a new store with
// FormatVersion and refuses one written in a newer or unknown format with an
// error wrapping storage.ErrFormat. The engine owns store: Close closes it.
func New(ctx context.Context, store Store, opts ...Option) (*Engine, error) {
	cfg := config{name: "kv", batch: DefaultBatchSize, log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case store == nil:
		return nil, fmt.Errorf("%s: nil store: %w", cfg.name, storage.ErrInvalid)
	case cfg.batch < 1:
		return nil, fmt.Errorf("%s: batch size %d, want at least 1: %w", cfg.name, cfg.batch, storage.ErrInvalid)
	case len(cfg.prefix) > MaxName:
		return nil, fmt.Errorf("%s: key prefix of %d bytes, limit %d: %w", cfg.name, len(cfg.prefix), MaxName, storage.ErrInvalid)
	}
	e := &Engine{store: store, keys: layout{root: cfg.prefix}, cfg: cfg, feedWake: make(chan struct{}), feedDone: make(chan struct{})}
	if err := e.checkFormat(ctx); err != nil {
		return nil, err
	}
	if err := e.openLog(ctx); err != nil {
		return nil, fmt.Errorf("%s: opening the change log: %w", cfg.name, err)
	}
	return e, nil
}

// checkFormat stamps a new store and refuses one of another format.
func (e *Engine) checkFormat(ctx context.Context) error {
	k := e.keys.format()
	err := e.store.Update(ctx, func(tx Tx) error {
		got, err := tx.Get(ctx, k)
		if err != nil {
			return err
		}
		if got == nil {
			return tx.Set(k, []byte(strconv.Itoa(FormatVersion)))
		}
		v, perr := strconv.Atoi(string(got))
		switch {
		case perr != nil || v < 1:
			return fmt.Errorf("%s: key prefix %q holds format version %q, which no Ankurah engine wrote: %w", e.cfg.name, e.cfg.prefix, got, storage.ErrFormat)
		case v > FormatVersion && mutant != mutNewerFormatAccepted:
			return fmt.Errorf("%s: key prefix %q holds format version %d, newer than this engine's %d; upgrade ankurah-go: %w", e.cfg.name, e.cfg.prefix, v, FormatVersion, storage.ErrFormat)
		case v < FormatVersion:
			// Format 1 differs only in also linking genesis events, which
			// EntityEvents tolerates: stamp it, so older engines refuse it.
			return tx.Set(k, []byte(strconv.Itoa(FormatVersion)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: checking the format version: %w", e.cfg.name, err)
	}
	return nil
}

// Close waits for the calls in progress, then closes the store. Later calls,
// a second Close included, fail with storage.ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("%s: close: %w", e.cfg.name, storage.ErrClosed)
	}
	e.closed = true
	close(e.feedDone)
	if err := e.store.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", e.cfg.name, err)
	}
	return nil
}

// enter starts a call: it fails once the engine is closed or ctx ended.
// The caller must call e.mu.RUnlock when it returns nil.
func (e *Engine) enter(ctx context.Context) error {
	e.mu.RLock()
	if e.closed && mutant != mutClosedNotRefused {
		e.mu.RUnlock()
		return fmt.Errorf("%s: %w", e.cfg.name, storage.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		e.mu.RUnlock()
		return err
	}
	return nil
}

// view runs fn on a snapshot.
func (e *Engine) view(ctx context.Context, fn func(Reader) error) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	defer e.mu.RUnlock()
	return e.store.View(ctx, fn)
}

// update runs fn in a transaction.
func (e *Engine) update(ctx context.Context, fn func(Tx) error) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	defer e.mu.RUnlock()
	return e.store.Update(ctx, fn)
}

// getMany reads keys, in one round trip when r is a MultiGetter.
func getMany(ctx context.Context, r Reader, keys [][]byte) ([][]byte, error) {
	if mg, ok := r.(MultiGetter); ok {
		return mg.GetMany(ctx, keys)
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := r.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// skip reports a row a scan leaves out because it does not decode.
func (e *Engine) skip(ctx context.Context, collection, kind string, key []byte, err error) {
	storage.ReportBadRow(ctx, e.cfg.log, storage.BadRow{Collection: collection, Kind: kind, Key: slices.Clone(key), Err: err})
}

// validName refuses empty and overlong names; any other string is storable.
func (e *Engine) validName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: empty %s name: %w", e.cfg.name, what, storage.ErrInvalid)
	case len(name) > MaxName:
		return fmt.Errorf("%s: %s name of %d bytes, limit %d: %w", e.cfg.name, what, len(name), MaxName, storage.ErrInvalid)
	}
	return nil
}
