package tikv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	tikverr "github.com/tikv/client-go/v2/error"
	tikvkv "github.com/tikv/client-go/v2/kv"
	"github.com/tikv/client-go/v2/oracle"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/storage"
)

// The change feed (storage.ChangeFeed). Every Apply writes one log entry in
// its own transaction:
//
//	root 'c' F  -> the batch's states, in order (the toolkit's change log value)
//	root 'c' 0  -> the cleanup watermark: entries below it may be deleted (8 bytes)
//	root 'u'    -> the log's identity (16 random bytes, the toolkit's)
//
// F is a timestamp from PD taken after the batch's reads and writes were
// buffered and before its commit; the transaction's commit timestamp C comes
// from PD after its prewrite, so F < C, and a commit-timestamp upper bound
// check makes the commit fail (and the batch run again) unless C <= F +
// commitWindow. Entries are keyed by F, so concurrent writers never touch
// the same log key (no contention on a log tail), and are delivered in the
// order of their commit timestamps, read back with each entry (TiKV's
// return-commit-ts reads): a total order consistent with every entity's
// commit order.
//
// Why no commit is skipped: a follower's position is (C, F) of the last
// batch it delivered, read at a snapshot timestamp R >= C. A snapshot at R
// shows every transaction that committed at or below R, and every later
// commit gets a timestamp above R — TiKV's snapshot isolation, which holds
// for the transactions in progress while the snapshot was read. So each
// round reads a fresh snapshot R and delivers, in (C, F) order, the entries
// it shows with (C, F) above the position. Those entries have F >= C -
// commitWindow, so a bounded window of keys, [position's C - commitWindow,
// R], holds all of them: that window (the resolved-timestamp watermark
// lagging by commitWindow) is what each round scans. A transaction that was
// still committing when the round read is above R and is found by a later
// round; nothing below the position can appear afterwards.
//
// The toolkit's own change log (kv.WithChangeFeed: a sequence number per
// batch, so every batch conflicts on the log's tail) is turned on so that
// Apply hands its entry to the transaction; Update replaces the toolkit's
// sequence key with F (see rw).

const (
	tagLog   = 'c'
	tagLogID = 'u'
)

// commitWindow bounds how long after its log timestamp F a batch may commit.
// A commit that takes longer fails its upper bound check and runs again with
// a new F. Followers re-read this much of the log in every round.
const commitWindow = 5 * time.Second

// DefaultFeedRetention is how long log entries are kept without
// WithFeedRetention.
const DefaultFeedRetention = time.Hour

// feedPoll is how often a follower looks for batches other handles committed
// (this handle's commits wake its followers at once).
const feedPoll = 50 * time.Millisecond

// feedReadAhead bounds the batches a follower holds at once.
const feedReadAhead = 64

// maxKnown bounds the entries of the window a follower remembers having
// delivered (so it need not read them again); beyond it the memory is
// dropped and those entries are read again and skipped by position.
const maxKnown = 1 << 16

// cleanupBatch is how many log entries one cleanup transaction deletes.
const cleanupBatch = 1000

// tokenFormat is the first byte of every token.
const tokenFormat = 1

// WithFeedRetention sets how long the change feed keeps committed batches
// (DefaultFeedRetention when d <= 0): a server down longer resumes with
// storage.ErrFeedGap. Each engine deletes older entries about every tenth of
// d (at least every second, at most every minute).
func WithFeedRetention(d time.Duration) Option {
	return func(c *config) {
		c.retention = d
		if d <= 0 {
			c.retention = DefaultFeedRetention
		}
	}
}

var _ storage.ChangeFeed = (*Engine)(nil)

// feed is an engine's side of the change log: wake-ups of its followers and
// the cleanup of old entries.
type feed struct {
	root []byte // the key prefix and its 0x00

	mu       sync.Mutex
	wake     chan struct{} // closed (and replaced) after each commit of this handle
	done     chan struct{} // closed by Close
	closed   bool
	cleaning bool      // a cleanup goroutine runs
	lastRun  time.Time // when the last cleanup started
	wg       sync.WaitGroup
}

func newFeed(root []byte) *feed {
	return &feed{root: root, wake: make(chan struct{}), done: make(chan struct{})}
}

func (f *feed) logPrefix() []byte { return append(bytes.Clone(f.root), tagLog) }

func (f *feed) logKey(ts uint64) []byte { return binary.BigEndian.AppendUint64(f.logPrefix(), ts) }

func (f *feed) watermarkKey() []byte { return f.logKey(0) }

// committed wakes this handle's followers.
func (f *feed) committed() {
	f.mu.Lock()
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
}

func (f *feed) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// close ends the cleanup and wakes followers with ErrClosed.
func (f *feed) close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// Feed returns the engine as a storage.ChangeFeed (every engine keeps one).
func (e *Engine) Feed() storage.ChangeFeed { return e }

// windowTS is commitWindow in timestamp units.
func windowTS() uint64 { return oracle.ComposeTS(commitWindow.Milliseconds(), 0) }

func (e *Engine) logID(ctx context.Context, r *rw) ([]byte, error) {
	id, err := r.Get(ctx, append(bytes.Clone(e.st.feed.root), tagLogID))
	if err != nil {
		return nil, err
	}
	if len(id) == 0 {
		return nil, fmt.Errorf("tikv: the store keeps no change log identity: %w", storage.ErrFormat)
	}
	return id, nil
}

func token(id []byte, c, f uint64) storage.FeedToken {
	t := append([]byte{tokenFormat}, id...)
	t = binary.BigEndian.AppendUint64(t, c)
	return binary.BigEndian.AppendUint64(t, f)
}

// FeedHead returns a token just after every batch committed before the call.
func (e *Engine) FeedHead(ctx context.Context) (storage.FeedToken, error) {
	if e.st.feed.isClosed() {
		return nil, fmt.Errorf("tikv: feed head: %w", storage.ErrClosed)
	}
	ts, err := e.st.client.GetTimestamp(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: feed head: %w", err)
	}
	var id []byte
	err = e.st.snapshot(ts, func(r *rw) (err error) { id, err = e.logID(ctx, r); return err })
	if err != nil {
		return nil, fmt.Errorf("tikv: feed head: %w", err)
	}
	// Every later commit has a timestamp above ts.
	return token(id, ts, 1<<64-1), nil
}

// logEntry is one log entry read by a follower.
type logEntry struct {
	c, f uint64
	v    []byte
}

func before(a, b logEntry) int {
	if c := cmp.Compare(a.c, b.c); c != 0 {
		return c
	}
	return cmp.Compare(a.f, b.f)
}

// Follow calls fn with every batch committed after token, in commit
// timestamp order, waiting for more; see storage.ChangeFeed.
func (e *Engine) Follow(ctx context.Context, after storage.FeedToken, fn func(storage.FeedBatch) error) error {
	fd := e.st.feed
	if fd.isClosed() {
		return fmt.Errorf("tikv: follow: %w", storage.ErrClosed)
	}
	var id []byte
	if err := e.st.view(ctx, func(r *rw) (err error) { id, err = e.logID(ctx, r); return err }); err != nil {
		return fmt.Errorf("tikv: follow: %w", err)
	}
	if len(after) != 1+len(id)+16 || after[0] != tokenFormat || !bytes.Equal(after[1:1+len(id)], id) {
		return fmt.Errorf("tikv: a token this store's feed did not make: %w", storage.ErrFeedGap)
	}
	pos := logEntry{c: binary.BigEndian.Uint64(after[1+len(id):]), f: binary.BigEndian.Uint64(after[9+len(id):])}
	known := map[uint64]uint64{} // F -> C of entries of the window at or below pos
	for {
		fd.mu.Lock()
		wake := fd.wake
		fd.mu.Unlock()
		ts, cands, more, err := e.readLog(ctx, pos, known)
		if err != nil {
			return err
		}
		for len(cands) > 0 {
			n := min(len(cands), feedReadAhead)
			chunk := cands[:n]
			cands = cands[n:]
			if err := e.fillValues(ctx, ts, chunk); err != nil {
				return err
			}
			for i := range chunk {
				b := &chunk[i]
				changes, err := decodeLog(b.v)
				if err != nil {
					return fmt.Errorf("tikv: change log entry %d: %w", b.f, err)
				}
				b.v = nil
				pos = logEntry{c: b.c, f: b.f}
				known[b.f] = b.c
				if err := fn(storage.FeedBatch{Changes: changes, Token: token(id, b.c, b.f)}); err != nil {
					return err
				}
			}
		}
		lo := windowLow(pos.c)
		for f := range known {
			if f < lo {
				delete(known, f)
			}
		}
		if len(known) > maxKnown {
			clear(known)
		}
		if more {
			continue
		}
		t := time.NewTimer(feedPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-fd.done:
			t.Stop()
			return fmt.Errorf("tikv: %w", storage.ErrClosed)
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// windowLow is the lowest log timestamp of a batch that may commit above c.
func windowLow(c uint64) uint64 {
	if w := windowTS(); c > w {
		return c - w
	}
	return 1
}

// readLog reads a fresh snapshot (at ts) and returns, in delivery order, the
// entries it shows above pos: their timestamps, and the values of the first
// feedReadAhead. It returns at most maxKnown entries (more: there were
// others).
func (e *Engine) readLog(ctx context.Context, pos logEntry, known map[uint64]uint64) (ts uint64, out []logEntry, more bool, err error) {
	fd := e.st.feed
	if err := ctx.Err(); err != nil {
		return 0, nil, false, err
	}
	ts, err = e.st.client.GetTimestamp(ctx)
	if err != nil {
		return 0, nil, false, fmt.Errorf("tikv: follow: read timestamp: %w", err)
	}
	lo := windowLow(pos.c)
	prefix := fd.logPrefix()
	values := 0 // values kept in out
	err = e.st.snapshot(ts, func(r *rw) error {
		wm, err := r.Get(ctx, fd.watermarkKey())
		if err != nil {
			return err
		}
		if len(wm) == 8 && binary.BigEndian.Uint64(wm) > lo {
			return fmt.Errorf("tikv: batches after the token are no longer kept (cleaned up below %d): %w", binary.BigEndian.Uint64(wm), storage.ErrFeedGap)
		}
		var pending [][]byte
		flush := func() error {
			if len(pending) == 0 {
				return nil
			}
			got, err := r.batchGet(ctx, pending, tikvkv.WithReturnCommitTS())
			if err != nil {
				return err
			}
			for _, k := range pending {
				v, ok := got[string(k)]
				if !ok {
					continue // cleaned up meanwhile: below the watermark, so below pos
				}
				le := logEntry{c: v.CommitTS, f: binary.BigEndian.Uint64(k[len(prefix):])}
				if le.c == 0 {
					return errors.New("the store returned no commit timestamp")
				}
				if before(le, pos) <= 0 {
					known[le.f] = le.c
					continue
				}
				if values < feedReadAhead {
					le.v, values = v.Value, values+1
				}
				out = append(out, le)
			}
			pending = pending[:0]
			if len(out) > 2*maxKnown {
				slices.SortFunc(out, before)
				out, more = out[:maxKnown], true
			}
			return nil
		}
		err = r.scanKeys(ctx, fd.logKey(lo), fd.logKey(ts+1), func(k []byte) error {
			if _, ok := known[binary.BigEndian.Uint64(k[len(prefix):])]; ok {
				return nil
			}
			pending = append(pending, bytes.Clone(k))
			if len(pending) == feedReadAhead {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
	if err != nil {
		return 0, nil, false, fmt.Errorf("tikv: follow: %w", err)
	}
	slices.SortFunc(out, before)
	if len(out) > maxKnown {
		out, more = out[:maxKnown], true
	}
	return ts, out, more, nil
}

// fillValues reads, at ts, the values chunk's entries do not hold yet.
func (e *Engine) fillValues(ctx context.Context, ts uint64, chunk []logEntry) error {
	var keys [][]byte
	for _, le := range chunk {
		if le.v == nil {
			keys = append(keys, e.st.feed.logKey(le.f))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return e.st.snapshot(ts, func(r *rw) error {
		got, err := r.batchGet(ctx, keys)
		if err != nil {
			return fmt.Errorf("tikv: follow: %w", err)
		}
		for i := range chunk {
			if chunk[i].v != nil {
				continue
			}
			v, ok := got[string(e.st.feed.logKey(chunk[i].f))]
			if !ok {
				return fmt.Errorf("tikv: follow: change log entry %d was cleaned up while being read: %w", chunk[i].f, storage.ErrFeedGap)
			}
			chunk[i].v = v.Value
		}
		return nil
	})
}

// maybeCleanup starts a cleanup of entries older than the retention when
// the last one started long enough ago. The goroutine belongs to the
// engine: Close waits for it.
func (s *store) maybeCleanup() {
	fd := s.feed
	every := min(max(s.cfg.retention/10, time.Second), time.Minute)
	fd.mu.Lock()
	if fd.closed || fd.cleaning || time.Since(fd.lastRun) < every {
		fd.mu.Unlock()
		return
	}
	fd.cleaning, fd.lastRun = true, time.Now()
	fd.wg.Add(1)
	fd.mu.Unlock()
	go func() {
		defer fd.wg.Done()
		defer func() { fd.mu.Lock(); fd.cleaning = false; fd.mu.Unlock() }()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-fd.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := s.cleanup(ctx, s.cfg.retention); err != nil && ctx.Err() == nil {
			s.cfg.log.Warn("tikv: change feed cleanup", "err", err)
		}
	}()
}

// cleanup deletes log entries older than the retention, cleanupBatch per
// transaction, raising the watermark in the same transaction. Two engines
// cleaning at once conflict on the watermark; the loser stops.
func (s *store) cleanup(ctx context.Context, retention time.Duration) error {
	fd := s.feed
	for ctx.Err() == nil {
		txn, err := s.client.Begin()
		if err != nil {
			return err
		}
		// Entries keyed below the cleanup's own start timestamp less the
		// retention: with retention 0 that is everything written before it,
		// even within the same millisecond.
		if retention.Milliseconds() >= oracle.ExtractPhysical(txn.StartTS()) {
			_ = txn.Rollback()
			return nil // nothing is that old
		}
		cut := txn.StartTS() - oracle.ComposeTS(retention.Milliseconds(), 0)
		var doomed [][]byte
		r := &rw{iter: func(lo, hi []byte, _ bool) (iterator, error) { return txn.Iter(lo, hi) }}
		err = r.scanKeys(ctx, fd.logKey(1), fd.logKey(cut), func(k []byte) error {
			if len(doomed) == cleanupBatch {
				return errStop
			}
			doomed = append(doomed, bytes.Clone(k))
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			_ = txn.Rollback()
			return err
		}
		if len(doomed) == 0 {
			_ = txn.Rollback()
			return nil
		}
		for _, k := range doomed {
			if err := txn.Delete(k); err != nil {
				_ = txn.Rollback()
				return err
			}
		}
		last := binary.BigEndian.Uint64(doomed[len(doomed)-1][len(fd.logPrefix()):])
		if err := txn.Set(fd.watermarkKey(), binary.BigEndian.AppendUint64(nil, last+1)); err != nil {
			_ = txn.Rollback()
			return err
		}
		if err := txn.Commit(ctx); err != nil {
			if tikverr.IsErrWriteConflict(err) {
				return nil // another engine is cleaning
			}
			return err
		}
		s.cfg.log.Debug("tikv: change feed cleanup", "deleted", len(doomed))
		if len(doomed) < cleanupBatch {
			return nil
		}
	}
	return ctx.Err()
}

var errStop = errors.New("stop")

// decodeLog decodes the toolkit's change log value: a uvarint count, then
// per state a uvarint-length-prefixed collection name and encoded state.
func decodeLog(v []byte) ([]storage.FeedChange, error) {
	bad := fmt.Errorf("truncated: %w", storage.ErrFormat)
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)) {
		return nil, bad
	}
	v = v[w:]
	out := make([]storage.FeedChange, 0, n)
	next := func() ([]byte, error) {
		l, w := binary.Uvarint(v)
		if w <= 0 || l > uint64(len(v)-w) {
			return nil, bad
		}
		b := v[w : w+int(l)]
		v = v[w+int(l):]
		return b, nil
	}
	for range n {
		coll, err := next()
		if err != nil {
			return nil, err
		}
		raw, err := next()
		if err != nil {
			return nil, err
		}
		s, err := entity.Decode(raw)
		if err != nil {
			return nil, errors.Join(storage.ErrFormat, err)
		}
		out = append(out, storage.FeedChange{Collection: string(coll), State: s})
	}
	return out, nil
}
