package kv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/storage"
)

// The change log, for storage.ChangeFeed. A store whose handles follow each
// other's commits holds, beside the data:
//
//	'u'          -> 16 random bytes: the log's identity (tokens of another store are refused)
//	'c' seq      -> one committed batch: its states, in order (seq: uint64 big-endian)
//
// Apply gives each batch the next seq in its own transaction, reading the
// last one: two batches that both read seq N write the same key N+1 and
// conflict, so seqs are assigned in commit order and a follower that has
// read up to N never meets N+1 later. The batches beyond the retention are
// deleted as new ones commit (the oldest first, at most trimBatch per
// commit, so a log kept longer under an earlier retention shrinks too); a
// follower behind them gets storage.ErrFeedGap, as does one that meets a
// hole in the seqs. Clear leaves the log.
//
// Followers of a handle wake at once after its own commits; commits of other
// handles are found by polling every feedPoll, unless the Store is a
// CommitSignaler (then every commit wakes every follower and none polls).

const (
	tagLogID = 'u'
	tagLog   = 'c'
)

// DefaultFeedRetention is how many batches the change log keeps without
// WithChangeFeed's argument.
const DefaultFeedRetention = 100_000

// feedPoll is how often a follower with nothing to read looks for commits
// of other handles (commits of its own handle wake it at once).
const feedPoll = 50 * time.Millisecond

// feedReadAhead bounds how many batches a follower reads at once.
const feedReadAhead = 64

// trimBatch bounds how many batches beyond the retention one commit deletes.
const trimBatch = 16

// CommitSignaler is a Store that tells its engines' change-feed followers
// when a transaction commits. A Store implements it only when it sees every
// commit of the data (every writer shares it, as the handles of one open
// file do), so followers need not poll for commits of other handles.
type CommitSignaler interface {
	// CommitSignal returns a channel that is closed once a read-write
	// transaction commits after the call.
	CommitSignal() <-chan struct{}
}

// WithChangeFeed keeps a change log in the store, so that Feed returns a
// storage.ChangeFeed: the last retention batches (DefaultFeedRetention when
// below 1) stay readable. Once a store has a log, every handle opened on it
// afterwards writes to it, with or without this option (keeping
// DefaultFeedRetention batches without it).
func WithChangeFeed(retention int) Option {
	return func(c *config) {
		c.feed = true
		c.retention = DefaultFeedRetention
		if retention > 0 {
			c.retention = retention
		}
	}
}

// FeedEngine is an Engine whose store keeps a change log: a
// storage.ChangeFeed of every batch committed through any handle of the store.
type FeedEngine struct{ *Engine }

var _ storage.ChangeFeed = FeedEngine{}

// Feed returns the engine as a storage.ChangeFeed, or nil when its store
// keeps no change log (see WithChangeFeed).
func (e *Engine) Feed() *FeedEngine {
	if e.logID == nil {
		return nil
	}
	return &FeedEngine{e}
}

// openLog reads (or, with WithChangeFeed, creates) the log's identity.
func (e *Engine) openLog(ctx context.Context) error {
	k := e.keys.tagged(tagLogID, 0)
	if !e.cfg.feed {
		return e.store.View(ctx, func(r Reader) error {
			id, err := r.Get(ctx, k)
			e.logID = bytes.Clone(id)
			return err
		})
	}
	return e.store.Update(ctx, func(tx Tx) error {
		id, err := tx.Get(ctx, k)
		if err != nil || id != nil {
			e.logID = bytes.Clone(id)
			return err
		}
		id = make([]byte, 16)
		_, _ = rand.Read(id)
		e.logID = id
		return tx.Set(k, id)
	})
}

func (e *Engine) logKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(e.keys.tagged(tagLog, 8), seq)
}

// lastSeq returns the seq of the latest batch in the log (0: none yet).
func (e *Engine) lastSeq(ctx context.Context, r Reader) (uint64, error) {
	lo := e.keys.tagged(tagLog, 0)
	var seq uint64
	err := r.Scan(ctx, lo, e.logKey(1<<64-1), true, func(k, _ []byte) (bool, error) {
		seq = binary.BigEndian.Uint64(k[len(lo):])
		return true, nil
	})
	return seq, err
}

// logBatch appends a batch's states to the log, in the batch's transaction.
func (e *Engine) logBatch(ctx context.Context, tx Tx, p *applyPlan) error {
	seq, err := e.lastSeq(ctx, tx)
	if err != nil {
		return fmt.Errorf("reading the change log: %w", err)
	}
	seq++
	v := binary.AppendUvarint(nil, uint64(len(p.states)))
	for _, ps := range p.states {
		coll := ps.w.State.Collection
		v = append(binary.AppendUvarint(v, uint64(len(coll))), coll...)
		v = append(binary.AppendUvarint(v, uint64(len(ps.raw))), ps.raw...)
	}
	if err := tx.Set(e.logKey(seq), v); err != nil {
		return err
	}
	r := uint64(e.retention())
	if seq <= r {
		return nil
	}
	// Batches up to seq-r go, the oldest first.
	var doomed [][]byte
	err = tx.Scan(ctx, e.keys.tagged(tagLog, 0), e.logKey(seq-r+1), false, func(k, _ []byte) (bool, error) {
		doomed = append(doomed, bytes.Clone(k))
		return len(doomed) == trimBatch, nil
	})
	if err != nil {
		return fmt.Errorf("reading the change log: %w", err)
	}
	for _, k := range doomed {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// retention is how many batches the log keeps.
func (e *Engine) retention() int {
	if e.cfg.retention < 1 {
		return DefaultFeedRetention
	}
	return e.cfg.retention
}

// committed wakes this handle's followers.
func (e *Engine) committed() {
	e.feedMu.Lock()
	close(e.feedWake)
	e.feedWake = make(chan struct{})
	e.feedMu.Unlock()
}

func (e *Engine) token(seq uint64) storage.FeedToken {
	return binary.BigEndian.AppendUint64(bytes.Clone(e.logID), seq)
}

// FeedHead returns the token of the latest batch committed so far.
func (f FeedEngine) FeedHead(ctx context.Context) (storage.FeedToken, error) {
	var seq uint64
	err := f.view(ctx, func(r Reader) (err error) { seq, err = f.lastSeq(ctx, r); return err })
	if err != nil {
		return nil, fmt.Errorf("%s: feed head: %w", f.cfg.name, err)
	}
	return f.token(seq), nil
}

// Follow calls fn with every batch committed after token, in order, waiting
// for more; see storage.ChangeFeed.
func (f FeedEngine) Follow(ctx context.Context, after storage.FeedToken, fn func(storage.FeedBatch) error) error {
	if len(after) != len(f.logID)+8 || !bytes.Equal(after[:len(f.logID)], f.logID) {
		return fmt.Errorf("%s: a token this store's feed did not make: %w", f.cfg.name, storage.ErrFeedGap)
	}
	seq := binary.BigEndian.Uint64(after[len(f.logID):])
	signaler, _ := f.store.(CommitSignaler)
	for {
		f.feedMu.Lock()
		var wake <-chan struct{} = f.feedWake
		f.feedMu.Unlock()
		if signaler != nil {
			wake = signaler.CommitSignal()
		}
		batches, more, err := f.readLog(ctx, seq)
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := fn(b.FeedBatch); err != nil {
				return err
			}
			seq = b.seq
		}
		if more {
			continue
		}
		if err := f.wait(ctx, wake, signaler == nil); err != nil {
			return err
		}
	}
}

// wait waits for wake to close, or feedPoll when poll.
func (f FeedEngine) wait(ctx context.Context, wake <-chan struct{}, poll bool) error {
	var tick <-chan time.Time
	if poll {
		t := time.NewTimer(feedPoll)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-f.feedDone:
		return fmt.Errorf("%s: %w", f.cfg.name, storage.ErrClosed)
	case <-wake:
	case <-tick:
	}
	return nil
}

type seqBatch struct {
	storage.FeedBatch
	seq uint64
}

// readLog reads up to feedReadAhead batches after seq, stopping before a
// hole in the seqs (more: read again without waiting).
func (f FeedEngine) readLog(ctx context.Context, seq uint64) (out []seqBatch, more bool, err error) {
	lo := f.keys.tagged(tagLog, 0)
	err = f.view(ctx, func(r Reader) error {
		out, more = out[:0], false
		return r.Scan(ctx, f.logKey(seq+1), f.logKey(1<<64-1), false, func(k, v []byte) (bool, error) {
			s := binary.BigEndian.Uint64(k[len(lo):])
			if want := seq + 1 + uint64(len(out)); s != want {
				if len(out) > 0 {
					more = true // the next read starts at the hole
					return true, nil
				}
				return false, fmt.Errorf("batch %d is no longer kept (the log goes on at %d): %w", want, s, storage.ErrFeedGap)
			}
			changes, err := decodeLog(v)
			if err != nil {
				return false, fmt.Errorf("change log entry %d: %w", s, err)
			}
			out = append(out, seqBatch{storage.FeedBatch{Changes: changes, Token: f.token(s)}, s})
			more = len(out) == feedReadAhead
			return more, nil
		})
	})
	if err != nil {
		return nil, false, fmt.Errorf("%s: follow: %w", f.cfg.name, err)
	}
	return out, more, nil
}

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
