// Package postgres is a storage.Engine on PostgreSQL (github.com/jackc/pgx/v5
// with pgxpool). Queries are pushed down to SQL; what cannot be pushed down
// exactly is finished by storage.Residual, so every answer is the one the
// memory engine gives.
//
// # Layout
//
// Everything lives in one schema (default "ankurah", see WithSchema): a
// "#format" table holding the format version (a newer version is refused
// with storage.ErrFormat), and for each collection a table of states and a
// table of events ("<collection>#ev"). Table and column names are derived
// from collection and property names by an injective mapping (long or
// unusual names get a hashed suffix) and always quoted with
// pgx.Identifier.Sanitize; values only ever travel as parameters, so no
// name or value can inject SQL.
//
// A state row holds the entity id (bytea primary key), its head (canonical
// clock encoding), the whole entity.State in canonical CBOR (what reads
// return, byte-exact), a residual flag, and typed columns for the
// materialized property values.
//
// # Dynamic types
//
// AnkQL values are dynamically typed: "year" may be an int in one entity
// and a string in another. So a property has one column per kind it has
// held, added on the fly (ALTER TABLE … ADD COLUMN IF NOT EXISTS, serialized
// by an advisory lock so concurrent writers never race on DDL):
//
//	<p>#b  boolean            bool
//	<p>#n  numeric            int and float (see below)
//	<p>#s  text COLLATE "C"   string (byte order, as value.Compare)
//	<p>#x  bytea              bytes
//	<p>#jc text COLLATE "C"   json, canonical text (equality, ORDER BY)
//	<p>#j  jsonb              json, for path queries (meta.producer.name)
//	<p>#r  bytea              entity ref
//
// A row has at most one of a property's whole-value columns set, so a
// comparison against a value of kind K is simply a comparison on the K
// column: rows holding another kind, or nothing, give NULL, which is exactly
// AnkQL's "unknown" (mixed types are never equal), and SQL's three-valued
// AND/OR/NOT then agree with AnkQL's. A column that does not exist yet is
// the NULL literal. ORDER BY ranks the kind columns as value.Compare does
// (NULL < bool < number < string < bytes < json < ref, DESC reversing it all)
// and breaks ties by the id bytes.
//
// Ints and floats share one numeric column so that they compare numerically,
// Int(1) equal to Float(1.0). A float is stored as its shortest round-trip
// decimal (or, from 2^53 on, its exact integer value): that keeps every
// int-float and float-float comparison exact. JSON numbers in the jsonb copy
// are rewritten the same way, after reading them as value.FromJSON does, so
// `meta.tracks > 3` has the same answer in SQL and in Go; JSON null is NULL.
//
// Values SQL cannot hold exactly — a string that is not valid UTF-8 or holds
// NUL, JSON that jsonb refuses — leave their column NULL and set the row's
// residual flag. Every query reads the flagged rows separately (a partial
// index keeps that free when there are none) and filters them in Go.
// Predicates that cannot be expressed exactly (LIKE and comparisons whose
// operand SQL cannot carry, JSON paths leading to objects, ORDER BY a JSON
// path) become a superset in SQL plus storage.Residual, LIMIT then applying
// in Go.
//
// # Writes
//
// Apply is one SQL transaction per batch: events first (INSERT … ON CONFLICT
// DO NOTHING), then states. An update deletes the row whose head is the
// expected head (DELETE … WHERE head = expected; fewer rows deleted than
// updates fails the batch), then every new row is written with COPY, where
// a row already stored is a unique violation: either way the whole batch
// fails with storage.ErrConflict (deadlocks and serialization failures
// between concurrent writers too). Replacing the row also clears every typed
// column of the old value, including columns another engine added meanwhile.
//
// DDL (tables, columns, indexes) runs in transactions of its own, before a
// write's transaction and serialized by an advisory lock per schema.
//
// # Change feed
//
// The Engine is a storage.ChangeFeed: several servers on one schema hear of
// each other's commits. Every Apply that writes anything also inserts one
// row into the schema's "#feed" table, in its own transaction: the
// transaction's id (xid8, pg_current_xact_id(), the primary key), its start
// time, and the batch's states (the same canonical CBOR the state rows hold,
// length-prefixed). "#feedinfo" holds the schema's random feed id and the
// last transaction id cleanup removed.
//
// A follower reads rows in transaction-id order, but only below the xmin of
// its statement's snapshot (pg_snapshot_xmin(pg_current_snapshot())): every
// transaction below it has ended, so no row can still appear there. A row
// numbered earlier but committed later is therefore never skipped; it holds
// back the rows after it until it commits (or aborts). A token is 17 bytes:
// a format byte, the feed id, and the transaction id of the last delivered
// batch; resuming delivers the rows above it. FeedHead takes a snapshot and
// waits until the write transactions it saw in progress have ended, then
// returns a token at its xmax.
//
// Ordering: batches that wrote the same entity are delivered in commit
// order because a later batch's transaction id is greater. Apply's first
// statement is one DELETE, with one snapshot, of every row the batch
// updates, and it is what gives the transaction its id; it can only succeed
// (remove the row at its expected head) if the batch that wrote that head
// had committed before its snapshot, and that batch's id was taken before
// it committed. A creation depends on no committed batch (a second creation
// of an id is a conflict).
//
// Latency and cost: Apply also sends NOTIFY on a channel of the schema
// (delivered at commit), which wakes followers; a follower also reads every
// second without one, and every 2–100 ms while rows are held back. Each
// Follow holds a connection of its own, outside the pool. Delivery waits for
// the oldest write transaction in progress in the whole cluster, whichever
// database it belongs to: a long-running write transaction delays every
// feed (it never loses a batch). A follower holds at most 256 rows or
// about 4 MiB of them in memory at a time.
//
// Retention: each engine removes, about every tenth of the retention (at
// least every second, at most every minute), the rows older than the
// retention (WithFeedRetention, an hour by default), from the front in
// transaction order and never at or above the xmin, 10,000 rows per
// statement, one engine of the schema at a time. A token older than the
// last removed row — a server down longer than the retention — is
// storage.ErrFeedGap, as is a malformed token, one of another schema (or a
// schema dropped and made again) and one the database has not reached (a
// restored backup). Engines of older builds on the same schema write no
// feed rows: upgrade every server before relying on the feed.
//
// # Undecodable rows
//
// A stored state or event that does not decode (written by an older build,
// or damaged) never makes its collection unreadable: fetches and event
// reads skip it and report it through storage.ReportBadRow (a fetch whose
// LIMIT went to SQL asks again for as many rows as it skipped), and GetState
// of it fails with storage.ErrFormat. The Engine is a storage.Repairer
// (BadRows, RemoveRow; see `ankurah admin`) and a storage.CollectionLooker:
// reads naming an unknown collection create no tables.
package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ankurah/ankurah-go/core/storage"
)

// FormatVersion is the version of the layout this package writes. A schema
// with a newer version is refused with storage.ErrFormat.
const FormatVersion = 1

// DefaultSchema is the schema an engine uses unless WithSchema says otherwise.
const DefaultSchema = "ankurah"

// Option configures Open.
type Option func(*options)

type options struct {
	schema        string
	logger        *slog.Logger
	feedRetention time.Duration
	noJoins       bool
}

// WithoutTraversalJoins makes the engine's collections leave selections
// that follow references to the node, which resolves each traversal term
// to sets of referenced ids first (as for every engine), instead of
// evaluating them as joins (storage.Traverser). It is for comparing the
// two; the answers are the same.
func WithoutTraversalJoins() Option { return func(o *options) { o.noJoins = true } }

// WithSchema keeps the engine's tables in the named PostgreSQL schema
// (created if needed). Engines on different schemas of one database are
// independent.
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithLogger sets the logger (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Engine is a storage.Engine, storage.Indexer and storage.ChangeFeed on
// PostgreSQL.
type Engine struct {
	pool    *pgxpool.Pool
	schema  string
	lockKey int64 // advisory lock serializing this schema's DDL
	log     *slog.Logger
	closed  atomic.Bool

	mu     sync.Mutex
	tables map[string]*table
	// noJoins: collections are not storage.Traversers (WithoutTraversalJoins).
	noJoins bool
	// joinFetches counts the traversals evaluated as joins (for tests).
	joinFetches atomic.Int64

	// The change feed (feed.go).
	feedTable, feedInfo string // quoted, schema-qualified "#feed" and "#feedinfo"
	feedChannel         string // NOTIFY channel of the schema's feed
	feedID              []byte // the schema's feed id, in every token
	feedRetention       time.Duration
	pruneKey            int64       // advisory lock serializing feed cleanup
	feedNotify          atomic.Bool // Apply wakes followers with NOTIFY
	feedOff             atomic.Bool // Apply writes no feed row (benchmarks only)
	// closing ends with Close: followers and the cleanup goroutine stop.
	closing context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup // the cleanup goroutine
}

var (
	_ storage.Engine  = (*Engine)(nil)
	_ storage.Indexer = (*Engine)(nil)
)

// Open connects to the database at url (a PostgreSQL URL or DSN), creates
// the schema and its format table if needed, and checks the stored format
// version: a newer one fails with an error wrapping storage.ErrFormat.
func Open(ctx context.Context, url string, opts ...Option) (*Engine, error) {
	o := options{schema: DefaultSchema, logger: slog.Default(), feedRetention: DefaultFeedRetention}
	for _, opt := range opts {
		opt(&o)
	}
	if o.schema == "" {
		return nil, fmt.Errorf("postgres: empty schema name: %w", storage.ErrInvalid)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	e := &Engine{
		pool:          pool,
		schema:        o.schema,
		lockKey:       lockKey("ankurah schema " + o.schema),
		pruneKey:      lockKey("ankurah feed cleanup " + o.schema),
		log:           o.logger,
		tables:        map[string]*table{},
		feedChannel:   "ankurah_feed_" + hash16(o.schema),
		feedRetention: o.feedRetention,
		noJoins:       o.noJoins,
	}
	e.feedTable, e.feedInfo = e.qualified("#feed"), e.qualified("#feedinfo")
	e.feedNotify.Store(true)
	if err := e.initSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	e.closing, e.stop = context.WithCancel(context.Background())
	e.wg.Go(e.pruneLoop)
	return e, nil
}

func lockKey(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

func (e *Engine) initSchema(ctx context.Context) error {
	format := e.qualified("#format")
	var version int
	newID := make([]byte, 8)
	if _, err := rand.Read(newID); err != nil {
		return fmt.Errorf("postgres: a feed id: %w", err)
	}
	err := e.ddl(ctx, func(tx pgx.Tx) error {
		stmts := []string{
			"CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{e.schema}.Sanitize(),
			"CREATE TABLE IF NOT EXISTS " + format + " (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), version integer NOT NULL)",
			fmt.Sprintf("INSERT INTO %s (version) VALUES (%d) ON CONFLICT DO NOTHING", format, FormatVersion),
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, "SELECT version FROM "+format).Scan(&version); err != nil {
			return err
		}
		if version > FormatVersion {
			return nil // refused below, before touching anything else
		}
		var err error
		e.feedID, err = e.feedDDL(ctx, tx, newID)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: preparing schema %q: %w", e.schema, err)
	}
	if version > FormatVersion {
		return fmt.Errorf("postgres: schema %q holds format version %d, this engine reads up to %d: %w",
			e.schema, version, FormatVersion, storage.ErrFormat)
	}
	return nil
}

// qualified returns the quoted schema-qualified name of a table or index.
func (e *Engine) qualified(name string) string { return pgx.Identifier{e.schema, name}.Sanitize() }

// ddl runs fn in a transaction holding the schema's advisory lock, so that
// concurrent engines never race on CREATE … IF NOT EXISTS (which is not safe
// under concurrency in PostgreSQL).
func (e *Engine) ddl(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", e.lockKey); err != nil {
			return err
		}
		return fn(tx)
	})
}

// Pool returns the engine's connection pool, for tools and benchmarks that
// read the tables directly.
func (e *Engine) Pool() *pgxpool.Pool { return e.pool }

// Schema returns the schema holding the engine's tables.
func (e *Engine) Schema() string { return e.schema }

// Close ends the engine's followers (their Follow returns
// storage.ErrClosed) and its feed cleanup, then closes the connection pool.
// Later calls fail with storage.ErrClosed.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return storage.ErrClosed
	}
	e.stop()
	e.wg.Wait()
	e.pool.Close()
	return nil
}

func (e *Engine) checkOpen() error {
	if e.closed.Load() {
		return storage.ErrClosed
	}
	return nil
}

// Collection opens a collection, creating its tables if needed.
func (e *Engine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	t, err := e.table(ctx, name)
	if err != nil {
		return nil, err
	}
	return e.newCollection(t), nil
}

// DeclareIndex makes SQL indexes (kind column, id) on every kind column of
// the property, creating the columns if needed, so equality, range and
// ORDER BY queries on it use an index whatever kinds its values have.
func (e *Engine) DeclareIndex(ctx context.Context, ix storage.Index) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if ix.Property == "" {
		return fmt.Errorf("postgres: index on an empty property name: %w", storage.ErrInvalid)
	}
	t, err := e.table(ctx, ix.Collection)
	if err != nil {
		return err
	}
	var need []string
	for k := colKind(0); k < numKinds; k++ {
		need = append(need, column(ix.Property, k))
	}
	err = e.ddl(ctx, func(tx pgx.Tx) error {
		if err := t.addColumns(ctx, tx, need); err != nil {
			return err
		}
		for _, k := range orderKinds {
			col := column(ix.Property, k)
			name := ident(ix.Collection, "#i"+hash16(col))
			q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s, id)",
				pgx.Identifier{name}.Sanitize(), t.name, pgx.Identifier{col}.Sanitize())
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("postgres: index on %q.%q: %w", ix.Collection, ix.Property, err)
			}
		}
		return nil
	})
	if err != nil {
		return e.wrap(err)
	}
	t.markColumns(need)
	return nil
}

// isClosedPool maps errors of a closed pool to storage.ErrClosed.
func (e *Engine) wrap(err error) error {
	if err == nil {
		return nil
	}
	if e.closed.Load() && !errors.Is(err, storage.ErrClosed) {
		return fmt.Errorf("%w: %v", storage.ErrClosed, err)
	}
	return err
}
