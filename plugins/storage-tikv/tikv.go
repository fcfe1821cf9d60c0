// Package tikv is a storage.Engine on a TiKV cluster, through client-go's
// transactional API (txnkv). Several servers can share one cluster, and
// several deployments can share one cluster under different key prefixes.
//
// Entity states, events and secondary index entries are plain keys (see
// keys.go for the layout) whose values are the core's canonical CBOR. Index
// keys hold keyenc encodings of property values, so equality, IN, range and
// LIKE-prefix terms on indexed properties become key-range scans, forward or
// reverse; the compiled query re-checks every candidate, so pushdown never
// changes an answer. Scans stream in batches (WithScanBatchSize) and never
// hold a whole collection in memory.
//
// Each Apply is one optimistic TiKV transaction. A state whose stored head is
// not the batch's expected head fails the batch with storage.ErrConflict;
// a TiKV write conflict (another writer committed the same keys first) is
// retried with bounded backoff and then reported as ErrContention.
//
// A stored state or event that does not decode (written by an older build,
// or damaged) never makes its collection unreadable: scans, event reads and
// index builds skip it and report it through storage.ReportBadRow; GetState
// of it fails with storage.ErrFormat. The Engine is a storage.Repairer
// (BadRows, RemoveRow; see `ankurah admin`) and a storage.CollectionLooker,
// for which a collection exists once it holds a state, an event or a
// declared index.
package tikv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	tikverr "github.com/tikv/client-go/v2/error"
	"github.com/tikv/client-go/v2/txnkv"
	"github.com/tikv/client-go/v2/txnkv/transaction"

	"github.com/ankurah/ankurah-go/core/storage"
)

// FormatVersion is the version of the key layout and encodings this package
// writes. A deployment written by a newer version is refused with an error
// wrapping storage.ErrFormat.
const FormatVersion = 1

// DefaultKeyPrefix is the key prefix used without WithKeyPrefix.
const DefaultKeyPrefix = "ankurah"

// DefaultScanBatchSize is the number of keys a scan reads per round trip
// without WithScanBatchSize.
const DefaultScanBatchSize = 256

// DefaultMaxAttempts is how many times Apply runs a transaction that keeps
// meeting TiKV write conflicts, without WithMaxAttempts.
const DefaultMaxAttempts = 8

// ErrContention is wrapped by the error of an Apply (or index build) whose
// transaction still met a TiKV write conflict after every attempt: other
// writers keep committing the same keys. Nothing of the batch was written.
var ErrContention = errors.New("tikv: write conflict persisted after retries")

// Option configures an Engine.
type Option func(*config)

type config struct {
	prefix      string
	batch       int
	maxAttempts int
	backoff     time.Duration
	log         *slog.Logger
	// beforeCommit, when set (by tests), runs between a transaction's
	// writes and its commit.
	beforeCommit func()
}

// WithKeyPrefix puts every key of the engine under prefix, so several
// deployments can share one cluster. The prefix may not contain a 0x00 byte
// and is at most 1,024 bytes long.
func WithKeyPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithScanBatchSize sets how many keys a scan reads per round trip (and how
// many states it fetches at once for index candidates). Values below 1 are
// refused by New.
func WithScanBatchSize(n int) Option { return func(c *config) { c.batch = n } }

// WithMaxAttempts sets how many times a transaction that meets TiKV write
// conflicts is attempted before ErrContention. Values below 1 are refused.
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// WithLogger sets the logger (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// Engine is a storage.Engine and storage.Indexer on TiKV. It is safe for
// concurrent use.
type Engine struct {
	client *txnkv.Client
	owned  bool // Close closes the client
	keys   keys
	cfg    config
	closed atomic.Bool
}

var (
	_ storage.Engine  = (*Engine)(nil)
	_ storage.Indexer = (*Engine)(nil)
)

// Open connects to the TiKV cluster whose PD endpoints are pdAddrs and
// returns an engine on it; Close closes the connection. If ctx ends before
// the connection is made, Open returns ctx's error (and closes the client
// when it arrives).
func Open(ctx context.Context, pdAddrs []string, opts ...Option) (*Engine, error) {
	if len(pdAddrs) == 0 {
		return nil, fmt.Errorf("%w: tikv: no PD address given", storage.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tikv: connecting to PD %s: %w", strings.Join(pdAddrs, ","), err)
	}
	type result struct {
		client *txnkv.Client
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := txnkv.NewClient(pdAddrs)
		ch <- result{c, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				_ = r.client.Close()
			}
		}()
		return nil, fmt.Errorf("tikv: connecting to PD %s: %w", strings.Join(pdAddrs, ","), ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("tikv: connecting to PD %s: %w", strings.Join(pdAddrs, ","), r.err)
	}
	e, err := newEngine(ctx, r.client, true, opts)
	if err != nil {
		_ = r.client.Close()
		return nil, err
	}
	return e, nil
}

// New returns an engine on an existing client (tests use client-go's
// in-process store wrapped as &txnkv.Client{KVStore: store}). Close leaves
// the client open.
func New(ctx context.Context, client *txnkv.Client, opts ...Option) (*Engine, error) {
	return newEngine(ctx, client, false, opts)
}

func newEngine(ctx context.Context, client *txnkv.Client, owned bool, opts []Option) (*Engine, error) {
	cfg := config{
		prefix:      DefaultKeyPrefix,
		batch:       DefaultScanBatchSize,
		maxAttempts: DefaultMaxAttempts,
		backoff:     5 * time.Millisecond,
		log:         slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case client == nil || client.KVStore == nil:
		return nil, fmt.Errorf("%w: tikv: nil client", storage.ErrInvalid)
	case strings.IndexByte(cfg.prefix, 0) >= 0:
		return nil, fmt.Errorf("%w: tikv: key prefix %q contains a 0x00 byte", storage.ErrInvalid, cfg.prefix)
	case len(cfg.prefix) > maxName:
		return nil, fmt.Errorf("%w: tikv: key prefix of %d bytes, limit %d", storage.ErrInvalid, len(cfg.prefix), maxName)
	case cfg.batch < 1:
		return nil, fmt.Errorf("%w: tikv: scan batch size %d, want at least 1", storage.ErrInvalid, cfg.batch)
	case cfg.maxAttempts < 1:
		return nil, fmt.Errorf("%w: tikv: max attempts %d, want at least 1", storage.ErrInvalid, cfg.maxAttempts)
	}
	e := &Engine{client: client, owned: owned, keys: newKeys(cfg.prefix), cfg: cfg}
	if err := e.checkFormat(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// checkFormat writes the format version into a new deployment and refuses a
// deployment written in a newer (or unknown) format.
func (e *Engine) checkFormat(ctx context.Context) error {
	k := e.keys.format()
	return e.update(ctx, "checking the format version", func(txn *transaction.KVTxn) error {
		got, err := txn.Get(ctx, k)
		if tikverr.IsErrNotFound(err) {
			return txn.Set(k, []byte(strconv.Itoa(FormatVersion)))
		}
		if err != nil {
			return err
		}
		v, perr := strconv.Atoi(string(got.Value))
		switch {
		case perr != nil || v < 1:
			return fmt.Errorf("%w: tikv: key prefix %q holds format version %q, which is not one this engine wrote", storage.ErrFormat, e.cfg.prefix, got.Value)
		case v > FormatVersion:
			return fmt.Errorf("%w: tikv: key prefix %q holds format version %d, newer than this engine's %d; upgrade ankurah", storage.ErrFormat, e.cfg.prefix, v, FormatVersion)
		}
		return nil
	})
}

// Close releases the engine (and the client, if Open made it). Later calls
// fail with storage.ErrClosed.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: tikv engine already closed", storage.ErrClosed)
	}
	if e.owned {
		return e.client.Close()
	}
	return nil
}

func (e *Engine) checkOpen() error {
	if e.closed.Load() {
		return fmt.Errorf("%w: tikv engine", storage.ErrClosed)
	}
	return nil
}

// update runs fn in an optimistic transaction and commits it, retrying the
// whole transaction (with jittered exponential backoff) when TiKV reports a
// write conflict. An error from fn rolls back and is returned as is.
func (e *Engine) update(ctx context.Context, what string, fn func(txn *transaction.KVTxn) error) error {
	var last error
	for attempt := 0; attempt < e.cfg.maxAttempts; attempt++ {
		if attempt > 0 {
			d := e.cfg.backoff << min(attempt-1, 6)
			d = d/2 + rand.N(d)
			e.cfg.log.DebugContext(ctx, "tikv: write conflict, retrying", "op", what, "attempt", attempt+1, "backoff", d)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return fmt.Errorf("tikv: %s: %w (after a write conflict: %v)", what, ctx.Err(), last)
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("tikv: %s: %w", what, err)
		}
		txn, err := e.client.Begin()
		if err != nil {
			return fmt.Errorf("tikv: %s: begin: %w", what, err)
		}
		if err := fn(txn); err != nil {
			_ = txn.Rollback()
			if tikverr.IsErrWriteConflict(err) {
				last = err
				continue
			}
			return err
		}
		if e.cfg.beforeCommit != nil {
			e.cfg.beforeCommit()
		}
		err = txn.Commit(ctx)
		if err == nil {
			return nil
		}
		if !tikverr.IsErrWriteConflict(err) {
			return fmt.Errorf("tikv: %s: commit: %w", what, err)
		}
		last = err
	}
	return fmt.Errorf("%w: %s: %d attempts: %v", ErrContention, what, e.cfg.maxAttempts, last)
}
