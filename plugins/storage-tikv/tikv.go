// Package tikv is a storage.Engine on a TiKV cluster, through client-go's
// transactional API (txnkv), built on the key-value toolkit core/storage/kv.
// Several servers can share one cluster, and several deployments can share
// one cluster under different key prefixes.
//
// Entity states, events and secondary index entries are plain keys (the
// toolkit's layout, under the key prefix and a 0x00 byte) whose values are
// the core's canonical CBOR. Index
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
//
// The Engine is a storage.ChangeFeed: every batch any engine on the same
// cluster and key prefix commits is delivered to followers in commit
// timestamp order (feed.go; docs/change-feeds.md), so several servers can
// share one cluster with live queries across them.
//
// client-go logs through a process-wide zap logger of its own; Open routes
// it to the engine's slog logger (WithLogger), at Debug while it connects,
// so `ankurah serve` against an unreachable cluster prints one error at its
// open timeout instead of a warning a second (clientlog.go).
package tikv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	tikverr "github.com/tikv/client-go/v2/error"
	tikvkv "github.com/tikv/client-go/v2/kv"
	"github.com/tikv/client-go/v2/txnkv"
	"github.com/tikv/client-go/v2/txnkv/transaction"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// FormatVersion is the version of the key layout and encodings this package
// writes. A deployment written by a newer version is refused with an error
// wrapping storage.ErrFormat. Format 1 deployments (releases before the
// toolkit, which also linked genesis events) are read as they are and
// stamped 2, so that engines of those releases then refuse them.
const FormatVersion = kv.FormatVersion

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
	retention   time.Duration // of the change feed
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

// Engine is a storage.Engine on TiKV (a kv.Engine over the cluster): also a
// storage.Indexer, storage.CollectionLooker, storage.Repairer and
// storage.Clearer. It is safe for concurrent use.
type Engine struct {
	*kv.Engine
	st *store
}

// Collection is one collection of an Engine: a key prefix, nothing to create.
type Collection = kv.Collection

// Open connects to the TiKV cluster whose PD endpoints are pdAddrs and
// returns an engine on it; Close closes the connection. If ctx ends before
// the connection is made, Open returns ctx's error (and closes the client
// when it arrives). Open routes client-go's own logs (a process-wide zap
// logger) to the WithLogger logger, at Debug while it connects, so an
// unreachable cluster gives one error rather than a warning a second
// (clientlog.go).
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
	// The client's logs go to the engine's logger, at Debug until this
	// attempt ends (clientlog.go): its retries are Open's error to report.
	logger := slog.Default()
	for _, o := range opts {
		var c config
		o(&c)
		if c.log != nil {
			logger = c.log
		}
	}
	connected := routeClientLogs(logger)
	ch := make(chan result, 1)
	go func() {
		c, err := txnkv.NewClient(pdAddrs)
		connected()
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
		retention:   DefaultFeedRetention,
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case client == nil || client.KVStore == nil:
		return nil, fmt.Errorf("%w: tikv: nil client", storage.ErrInvalid)
	case strings.IndexByte(cfg.prefix, 0) >= 0:
		return nil, fmt.Errorf("%w: tikv: key prefix %q contains a 0x00 byte", storage.ErrInvalid, cfg.prefix)
	case len(cfg.prefix) > kv.MaxName-1:
		return nil, fmt.Errorf("%w: tikv: key prefix of %d bytes, limit %d", storage.ErrInvalid, len(cfg.prefix), kv.MaxName-1)
	case cfg.batch < 1:
		return nil, fmt.Errorf("%w: tikv: scan batch size %d, want at least 1", storage.ErrInvalid, cfg.batch)
	case cfg.maxAttempts < 1:
		return nil, fmt.Errorf("%w: tikv: max attempts %d, want at least 1", storage.ErrInvalid, cfg.maxAttempts)
	case cfg.retention < 2*commitWindow:
		return nil, fmt.Errorf("%w: tikv: feed retention %v, want at least %v", storage.ErrInvalid, cfg.retention, 2*commitWindow)
	}
	root := append([]byte(cfg.prefix), 0)
	st := &store{client: client, owned: owned, cfg: cfg, feed: newFeed(root)}
	// The toolkit's change log hands each Apply's entry to the transaction,
	// which Update keys by timestamp (feed.go); its sequence numbers are never
	// stored, so the toolkit's retention is moot.
	e, err := kv.New(ctx, st,
		kv.WithName("tikv"), kv.WithKeyPrefix(root), kv.WithBatchSize(cfg.batch), kv.WithLogger(cfg.log), kv.WithChangeFeed(1))
	if err != nil {
		st.feed.close()
		return nil, err
	}
	return &Engine{Engine: e, st: st}, nil
}

// store is the cluster as a kv.Store.
type store struct {
	client *txnkv.Client
	owned  bool // Close closes the client
	cfg    config
	feed   *feed
}

func (s *store) Close() error {
	s.feed.close()
	if s.owned {
		return s.client.Close()
	}
	return nil
}

// View reads a snapshot at the current timestamp, whose scans read a batch
// of keys per round trip.
func (s *store) View(ctx context.Context, fn func(kv.Reader) error) error {
	return s.view(ctx, func(r *rw) error { return fn(r) })
}

// view reads a snapshot at the current timestamp.
func (s *store) view(ctx context.Context, fn func(*rw) error) error {
	ts, err := s.client.GetTimestamp(ctx)
	if err != nil {
		return fmt.Errorf("tikv: getting a read timestamp: %w", err)
	}
	return s.snapshot(ts, fn)
}

// snapshot reads the snapshot at ts; its scanKeys reads keys only.
func (s *store) snapshot(ts uint64, fn func(*rw) error) error {
	snap := s.client.GetSnapshot(ts)
	snap.SetScanBatchSize(s.cfg.batch)
	keys := s.client.GetSnapshot(ts)
	keys.SetScanBatchSize(s.cfg.batch)
	keys.SetKeyOnly(true)
	return fn(&rw{
		get: func(ctx context.Context, k []byte) (tikvkv.ValueEntry, error) { return snap.Get(ctx, k) },
		batchGet: func(ctx context.Context, ks [][]byte, o ...tikvkv.BatchGetOption) (map[string]tikvkv.ValueEntry, error) {
			return snap.BatchGet(ctx, ks, o...)
		},
		iter: func(lo, hi []byte, reverse bool) (iterator, error) {
			if reverse {
				return snap.IterReverse(hi, lo)
			}
			return snap.Iter(lo, hi)
		},
		keyIter: func(lo, hi []byte) (iterator, error) { return keys.Iter(lo, hi) },
	})
}

// Update runs fn in an optimistic transaction and commits it, running the
// whole transaction again (after a jittered exponential backoff) when TiKV
// reports a write conflict, up to WithMaxAttempts times; then the error
// wraps ErrContention. An error from fn rolls back and is returned as is.
func (s *store) Update(ctx context.Context, fn func(kv.Tx) error) error {
	var last error
	for attempt := 0; attempt < s.cfg.maxAttempts; attempt++ {
		if attempt > 0 {
			d := s.cfg.backoff << min(attempt-1, 6)
			d = d/2 + rand.N(d)
			s.cfg.log.DebugContext(ctx, "tikv: write conflict, retrying", "attempt", attempt+1, "backoff", d)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return fmt.Errorf("tikv: %w (after a write conflict: %v)", ctx.Err(), last)
			}
		}
		txn, err := s.client.Begin()
		if err != nil {
			return fmt.Errorf("tikv: begin: %w", err)
		}
		tx := &rw{
			get: func(ctx context.Context, k []byte) (tikvkv.ValueEntry, error) { return txn.Get(ctx, k) },
			batchGet: func(ctx context.Context, ks [][]byte, o ...tikvkv.BatchGetOption) (map[string]tikvkv.ValueEntry, error) {
				return txn.BatchGet(ctx, ks, o...)
			},
			iter: func(lo, hi []byte, reverse bool) (iterator, error) {
				if reverse {
					return txn.IterReverse(hi, lo)
				}
				return txn.Iter(lo, hi)
			},
			txn:     txn,
			logging: s.feed.logPrefix(),
		}
		if err := fn(tx); err != nil {
			_ = txn.Rollback()
			if tikverr.IsErrWriteConflict(err) {
				last = err
				continue
			}
			return err
		}
		var late atomic.Bool
		if tx.entry != nil {
			// The batch's change log entry, keyed by a timestamp taken now;
			// the commit must follow within commitWindow (feed.go).
			f, err := s.client.GetTimestamp(ctx)
			if err != nil {
				_ = txn.Rollback()
				return fmt.Errorf("tikv: getting the change log timestamp: %w", err)
			}
			if err := txn.Set(s.feed.logKey(f), tx.entry); err != nil {
				_ = txn.Rollback()
				return err
			}
			limit := f + windowTS()
			txn.SetCommitTSUpperBoundCheck(func(c uint64) bool {
				if c > limit {
					late.Store(true)
					return false
				}
				return true
			})
		}
		if s.cfg.beforeCommit != nil {
			s.cfg.beforeCommit()
		}
		if err = txn.Commit(ctx); err == nil {
			if tx.entry != nil {
				s.feed.committed()
				s.maybeCleanup()
			}
			return nil
		}
		if late.Load() {
			s.cfg.log.WarnContext(ctx, "tikv: a commit took longer than the change feed's commit window; retrying", "window", commitWindow)
			last = err
			continue
		}
		if !tikverr.IsErrWriteConflict(err) {
			return fmt.Errorf("tikv: commit: %w", err)
		}
		last = err
	}
	return fmt.Errorf("%w: %d attempts: %v", ErrContention, s.cfg.maxAttempts, last)
}

// iterator is what client-go's scans return (its type is internal).
type iterator interface {
	Valid() bool
	Key() []byte
	Value() []byte
	Next() error
	Close()
}

// rw reads a snapshot or a transaction (and writes the transaction, when txn is set).
//
// In a transaction it also takes over the toolkit's change log: the
// toolkit's scan for the log's last sequence number finds none, and its write
// of the next entry is kept as entry, which Update stores under a timestamp
// key instead (feed.go).
type rw struct {
	get      func(ctx context.Context, k []byte) (tikvkv.ValueEntry, error)
	batchGet func(ctx context.Context, ks [][]byte, o ...tikvkv.BatchGetOption) (map[string]tikvkv.ValueEntry, error)
	iter     func(lo, hi []byte, reverse bool) (iterator, error)
	keyIter  func(lo, hi []byte) (iterator, error) // keys only (nil: iter)
	txn      *transaction.KVTxn
	logging  []byte // in a transaction: the change log's key prefix
	entry    []byte // the toolkit's change log entry of this transaction
}

func (r *rw) Get(ctx context.Context, k []byte) ([]byte, error) {
	v, err := r.get(ctx, k)
	if tikverr.IsErrNotFound(err) {
		return nil, nil
	}
	return v.Value, err
}

func (r *rw) GetMany(ctx context.Context, ks [][]byte) ([][]byte, error) {
	got, err := r.batchGet(ctx, ks)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ks))
	for i, k := range ks {
		if v, ok := got[string(k)]; ok {
			out[i] = v.Value
		}
	}
	return out, nil
}

func (r *rw) Scan(ctx context.Context, lo, hi []byte, reverse bool, f func(k, v []byte) (bool, error)) error {
	if r.logging != nil && bytes.HasPrefix(lo, r.logging) {
		return nil // the toolkit looking for its last sequence number
	}
	it, err := r.iter(lo, hi, reverse)
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); err = it.Next() {
		if err != nil {
			return err
		}
		if stop, err := f(it.Key(), it.Value()); err != nil || stop {
			return err
		}
	}
	return err
}

// scanKeys calls f with each key in [lo, hi), ascending, until f returns an
// error (returned as is).
func (r *rw) scanKeys(ctx context.Context, lo, hi []byte, f func(k []byte) error) error {
	open := r.keyIter
	if open == nil {
		open = func(lo, hi []byte) (iterator, error) { return r.iter(lo, hi, false) }
	}
	it, err := open(lo, hi)
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); err = it.Next() {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f(it.Key()); err != nil {
			return err
		}
	}
	return err
}

func (r *rw) Set(k, v []byte) error {
	if r.logging != nil && bytes.HasPrefix(k, r.logging) {
		r.entry = bytes.Clone(v)
		return nil
	}
	return r.txn.Set(k, v)
}

func (r *rw) Delete(k []byte) error {
	if r.logging != nil && bytes.HasPrefix(k, r.logging) {
		return nil
	}
	return r.txn.Delete(k)
}
