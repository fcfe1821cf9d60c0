package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/storage"
)

var _ storage.ChangeFeed = (*Engine)(nil)

// DefaultFeedRetention is how long the change feed keeps a committed batch
// unless WithFeedRetention says otherwise.
const DefaultFeedRetention = time.Hour

const (
	// feedTokenFormat is the first byte of every token; a token is
	// format, the schema's feed id (8 bytes) and a transaction id (xid8,
	// 8 bytes big-endian): everything up to and including that
	// transaction has been delivered.
	feedTokenFormat = 1
	feedTokenSize   = 1 + 8 + 8
	// feedPayloadFormat is the first byte of a "#feed" row's changes.
	feedPayloadFormat = 1
	// A follower reads at most feedPageRows rows, and stops adding rows
	// to a page once it holds feedPageBytes (a single larger row still
	// comes alone): what one follower holds in memory at a time.
	feedPageRows  = 256
	feedPageBytes = 4 << 20
	// feedIdlePoll is the longest a follower waits for a notification
	// before it reads the table anyway (a notification can be lost when
	// its connection drops, and rows held back behind another
	// transaction notify nobody when that transaction ends).
	feedIdlePoll = time.Second
	// feedHeldPoll is the first and feedHeldPollMax the last pause of a
	// follower waiting for rows held back behind a transaction in progress.
	feedHeldPoll    = 2 * time.Millisecond
	feedHeldPollMax = 100 * time.Millisecond
	// feedPruneRows bounds the rows one cleanup statement deletes.
	feedPruneRows = 10_000
	// maxFeedChanges bounds the states one feed row may hold when decoded.
	maxFeedChanges = 1 << 20
)

// WithFeedRetention keeps committed batches in the change feed for at least
// d (DefaultFeedRetention otherwise; d is at least a second). A follower
// whose token is older than what is kept gets storage.ErrFeedGap.
func WithFeedRetention(d time.Duration) Option {
	return func(o *options) { o.feedRetention = max(d, time.Second) }
}

// feedDDL creates the feed's tables (inside initSchema's transaction) and
// returns the schema's feed id.
func (e *Engine) feedDDL(ctx context.Context, tx pgx.Tx, newID []byte) ([]byte, error) {
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS " + e.feedTable + " (xid xid8 PRIMARY KEY DEFAULT pg_current_xact_id(), at timestamptz NOT NULL DEFAULT now(), changes bytea NOT NULL)",
		"CREATE TABLE IF NOT EXISTS " + e.feedInfo + " (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), id bytea NOT NULL, pruned xid8 NOT NULL DEFAULT '0')",
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+e.feedInfo+" (id) VALUES ($1) ON CONFLICT DO NOTHING", newID); err != nil {
		return nil, err
	}
	var id []byte
	if err := tx.QueryRow(ctx, "SELECT id FROM "+e.feedInfo).Scan(&id); err != nil {
		return nil, err
	}
	if len(id) != 8 {
		return nil, fmt.Errorf("postgres: the feed id of schema %q is %d bytes, want 8: %w", e.schema, len(id), storage.ErrFormat)
	}
	return id, nil
}

// queueFeed adds the batch's feed row (and, with notify, the followers'
// wake-up) to a write's pipeline. It must follow every statement that
// deletes a state row: see "Ordering" in the package documentation.
func (e *Engine) queueFeed(b *pgx.Batch, states [][]byte) {
	b.Queue("INSERT INTO "+e.feedTable+" (changes) VALUES ($1)", encodeFeed(states))
	if e.feedNotify.Load() {
		b.Queue("SELECT pg_notify($1, '')", e.feedChannel)
	}
}

// encodeFeed frames a batch's encoded states: the format byte, then the
// number of states and each state, length-prefixed (uvarints).
func encodeFeed(states [][]byte) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, s := range states {
		n += binary.MaxVarintLen64 + len(s)
	}
	out := make([]byte, 0, n)
	out = append(out, feedPayloadFormat)
	out = binary.AppendUvarint(out, uint64(len(states)))
	for _, s := range states {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return out
}

// decodeFeed parses what encodeFeed made, checking every length.
func decodeFeed(b []byte) ([]storage.FeedChange, error) {
	if len(b) == 0 || b[0] != feedPayloadFormat {
		return nil, fmt.Errorf("feed row of an unknown format: %w", storage.ErrFormat)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxFeedChanges || n > uint64(len(b)) {
		return nil, fmt.Errorf("feed row with a bad count of states: %w", storage.ErrFormat)
	}
	b = b[k:]
	out := make([]storage.FeedChange, 0, n)
	for i := range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("feed row: state %d overruns the row: %w", i, storage.ErrFormat)
		}
		s, err := entity.Decode(b[k : k+int(l)])
		if err != nil {
			return nil, fmt.Errorf("feed row: state %d: %v: %w", i, err, storage.ErrFormat)
		}
		if s.Collection == "" {
			return nil, fmt.Errorf("feed row: state %d has no collection: %w", i, storage.ErrFormat)
		}
		out = append(out, storage.FeedChange{Collection: s.Collection, State: s})
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("feed row: %d bytes after its states: %w", len(b), storage.ErrFormat)
	}
	return out, nil
}

func (e *Engine) feedToken(xid uint64) storage.FeedToken {
	t := make([]byte, feedTokenSize)
	t[0] = feedTokenFormat
	copy(t[1:9], e.feedID)
	binary.BigEndian.PutUint64(t[9:], xid)
	return t
}

// parseToken validates a token and returns its transaction id.
func (e *Engine) parseToken(t storage.FeedToken) (uint64, error) {
	if len(t) != feedTokenSize || t[0] != feedTokenFormat {
		return 0, fmt.Errorf("postgres: malformed feed token (%d bytes): %w", len(t), storage.ErrFeedGap)
	}
	if string(t[1:9]) != string(e.feedID) {
		return 0, fmt.Errorf("postgres: the feed token belongs to another store than schema %q: %w", e.schema, storage.ErrFeedGap)
	}
	return binary.BigEndian.Uint64(t[9:]), nil
}

// FeedHead returns a token after every batch committed before the call. It
// takes a snapshot and waits until the write transactions that snapshot saw
// in progress (in the whole cluster) have ended, so that everything
// committing after it returns has a greater transaction id.
func (e *Engine) FeedHead(ctx context.Context) (storage.FeedToken, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	var xmin, xmax uint64
	const q = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
	if err := e.pool.QueryRow(ctx, q).Scan(&xmin, &xmax); err != nil {
		return nil, e.wrap(fmt.Errorf("postgres: feed head: %w", err))
	}
	for pause := feedHeldPoll; xmin < xmax; pause = min(2*pause, feedHeldPollMax) {
		if err := e.sleep(ctx, pause); err != nil {
			return nil, err
		}
		var ignored uint64
		if err := e.pool.QueryRow(ctx, q).Scan(&xmin, &ignored); err != nil {
			return nil, e.wrap(fmt.Errorf("postgres: feed head: %w", err))
		}
	}
	return e.feedToken(xmax - 1), nil
}

// sleep waits for d, ctx's end (its error) or Close (ErrClosed).
func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-e.closing.Done():
		return storage.ErrClosed
	case <-t.C:
		return nil
	}
}

// Follow calls f with every batch committed after token by any engine on
// the schema, in transaction-id order, which is commit order for batches
// that wrote the same entity (see "Change feed" in the package
// documentation). It holds a connection of its own (not one of the pool's)
// while it runs. A malformed token, one of another store, one older than
// what the feed keeps or one the database has not reached is
// storage.ErrFeedGap; Close ends it with storage.ErrClosed; an error of its
// connection ends it too (follow again from the last token).
func (e *Engine) Follow(ctx context.Context, after storage.FeedToken, f func(storage.FeedBatch) error) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	pos, err := e.parseToken(after)
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.closing, cancel)
	defer stop()
	ended := func(err error) error {
		switch {
		case parent.Err() != nil:
			return parent.Err()
		case e.closed.Load():
			return storage.ErrClosed
		}
		return err
	}

	conn, err := pgx.ConnectConfig(ctx, e.pool.Config().ConnConfig.Copy())
	if err != nil {
		return ended(fmt.Errorf("postgres: feed connection: %w", err))
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{e.feedChannel}.Sanitize()); err != nil {
		return ended(fmt.Errorf("postgres: feed: LISTEN: %w", err))
	}
	pause := feedHeldPoll
	for {
		page, held, err := e.readFeed(ctx, conn, pos)
		if err != nil {
			return ended(err)
		}
		for _, b := range page {
			if err := f(b.FeedBatch); err != nil {
				return err
			}
			pos = b.xid
			if parent.Err() != nil || e.closed.Load() {
				return ended(nil)
			}
		}
		switch {
		case len(page) > 0: // there may be more: read again at once
			pause = feedHeldPoll
		case held: // rows wait for an older transaction to end
			if err := e.sleep(ctx, pause); err != nil {
				return ended(err)
			}
			pause = min(2*pause, feedHeldPollMax)
		default:
			pause = feedHeldPoll
			wctx, wcancel := context.WithTimeout(ctx, feedIdlePoll)
			_, err := conn.WaitForNotification(wctx)
			wcancel()
			if ctx.Err() != nil {
				return ended(ctx.Err())
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return ended(fmt.Errorf("postgres: feed: waiting for a notification: %w", err))
			}
		}
	}
}

type feedRow struct {
	storage.FeedBatch
	xid uint64
}

// readFeed reads the next page of batches after transaction pos, among
// those below the snapshot's xmin: every transaction below it has ended, so
// no row can appear there later. held reports committed rows at or above
// xmin, waiting for an older transaction to end. One statement, so one
// snapshot: the feed id, the pruned mark and the rows agree.
func (e *Engine) readFeed(ctx context.Context, conn *pgx.Conn, pos uint64) (page []feedRow, held bool, err error) {
	q := `WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin, pg_snapshot_xmax(pg_current_snapshot()) AS xmax),
	p AS (
		SELECT x.xid, x.changes, sum(octet_length(x.changes)) OVER (ORDER BY x.xid) - octet_length(x.changes) AS before
		FROM (SELECT xid, changes FROM ` + e.feedTable + ` WHERE xid > $1::text::xid8 AND xid < (SELECT xmin FROM s) ORDER BY xid LIMIT $2) x)
	SELECT i.id, i.pruned::text::bigint, s.xmax::text::bigint,
		EXISTS (SELECT 1 FROM ` + e.feedTable + ` WHERE xid >= s.xmin),
		p.xid::text::bigint, p.changes
	FROM ` + e.feedInfo + ` i CROSS JOIN s LEFT JOIN p ON p.before < $3
	ORDER BY p.xid`
	rows, err := conn.Query(ctx, q, fmt.Sprint(pos), feedPageRows, feedPageBytes)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: reading the feed: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id           []byte
			pruned, xmax uint64
			xid          *uint64
			changes      []byte
			heldBehind   bool
		)
		if err := rows.Scan(&id, &pruned, &xmax, &heldBehind, &xid, &changes); err != nil {
			return nil, false, fmt.Errorf("postgres: reading the feed: %w", err)
		}
		held = heldBehind
		switch {
		case string(id) != string(e.feedID):
			return nil, false, fmt.Errorf("postgres: schema %q holds another store's feed now: %w", e.schema, storage.ErrFeedGap)
		case pos < pruned:
			return nil, false, fmt.Errorf("postgres: feed token at transaction %d, the feed keeps transactions after %d (WithFeedRetention): %w", pos, pruned, storage.ErrFeedGap)
		case pos >= xmax:
			return nil, false, fmt.Errorf("postgres: feed token at transaction %d, which the database has not reached (%d; restored from a backup?): %w", pos, xmax, storage.ErrFeedGap)
		case xid == nil:
			continue
		}
		ch, err := decodeFeed(changes)
		if err != nil {
			return nil, false, fmt.Errorf("postgres: feed transaction %d: %w", *xid, err)
		}
		page = append(page, feedRow{storage.FeedBatch{Changes: ch, Token: e.feedToken(*xid)}, *xid})
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("postgres: reading the feed: %w", err)
	}
	return page, held, nil
}

// pruneLoop removes batches older than the retention until Close.
func (e *Engine) pruneLoop() {
	every := min(max(e.feedRetention/10, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.closing.Done():
			return
		case <-t.C:
		}
		if _, err := e.pruneFeed(e.closing, e.feedRetention); err != nil && e.closing.Err() == nil {
			e.log.Warn("postgres: cleaning up the change feed", "schema", e.schema, "err", err)
		}
	}
}

// pruneFeed deletes the feed's rows older than keep from the front (in
// transaction order, never a row at or above the snapshot's xmin, whose
// neighbours may still commit) and records the last one deleted, which
// makes older tokens ErrFeedGap. One engine of the schema prunes at a time;
// the others skip. It returns how many rows it deleted.
func (e *Engine) pruneFeed(ctx context.Context, keep time.Duration) (int64, error) {
	q := `WITH cut AS (
		SELECT max(xid) AS x FROM (SELECT xid, at FROM ` + e.feedTable + ` ORDER BY xid LIMIT $2) f
		WHERE at < now() - $1::bigint * interval '1 microsecond' AND xid < pg_snapshot_xmin(pg_current_snapshot())),
	del AS (DELETE FROM ` + e.feedTable + ` WHERE xid <= (SELECT x FROM cut) RETURNING 1),
	upd AS (UPDATE ` + e.feedInfo + ` SET pruned = greatest(pruned, (SELECT x FROM cut)) WHERE (SELECT x FROM cut) IS NOT NULL)
	SELECT count(*) FROM del`
	var total int64
	for {
		var n int64
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			var mine bool
			if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", e.pruneKey).Scan(&mine); err != nil || !mine {
				return err
			}
			return tx.QueryRow(ctx, q, keep.Microseconds(), feedPruneRows).Scan(&n)
		})
		if err != nil {
			return total, e.wrap(fmt.Errorf("postgres: pruning the feed: %w", err))
		}
		total += n
		if n < feedPruneRows {
			return total, nil
		}
	}
}
