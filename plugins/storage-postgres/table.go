package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/storage"
)

// table is what the engine knows of one collection's tables.
type table struct {
	collection string
	ident      pgx.Identifier // schema-qualified states table
	name       string         // the same, quoted
	events     string         // quoted, schema-qualified events table
	regclass   string         // the states table's name as regclass text
	// absent: the collection has no tables (a traversal's collection
	// never written); it reads as no rows and no columns.
	absent bool

	mu   sync.RWMutex
	cols map[string]bool // typed columns known to exist (columns are never dropped)
}

func hash16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// table returns the tables of a collection, creating them if needed.
func (e *Engine) table(ctx context.Context, collection string) (*table, error) {
	if collection == "" {
		return nil, fmt.Errorf("postgres: empty collection name: %w", storage.ErrInvalid)
	}
	if t := e.cached(collection); t != nil {
		return t, nil
	}
	t := e.newTable(collection)
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS " + t.name + " (id bytea PRIMARY KEY, head bytea NOT NULL, state bytea NOT NULL, residual boolean NOT NULL DEFAULT false)",
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (id) WHERE residual", pgx.Identifier{ident(collection, "#rx")}.Sanitize(), t.name),
		"CREATE TABLE IF NOT EXISTS " + t.events + " (id bytea PRIMARY KEY, entity bytea NOT NULL, event bytea NOT NULL)",
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (entity)", pgx.Identifier{ident(collection, "#ee")}.Sanitize(), t.events),
	}
	err := e.ddl(ctx, func(tx pgx.Tx) error {
		// Existing tables are left alone: CREATE … IF NOT EXISTS would
		// still lock them, and waiting for writers while holding the DDL
		// lock can deadlock with a writer queued behind us. The tables and
		// their indexes are made in one transaction, so both exist or none.
		var states, events *string
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1)::text, to_regclass($2)::text", t.name, t.events).Scan(&states, &events); err != nil {
			return err
		}
		if states == nil || events == nil {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return err
				}
			}
		}
		return t.loadColumns(ctx, tx)
	})
	if err != nil {
		return nil, e.wrap(fmt.Errorf("postgres: creating tables of collection %q: %w", collection, err))
	}
	return e.cache(t), nil
}

// cached returns the known tables of a collection, nil if none.
func (e *Engine) cached(collection string) *table {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tables[collection]
}

// cache records t as the tables of its collection, unless another
// goroutine did first; it returns the one recorded.
func (e *Engine) cache(t *table) *table {
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev := e.tables[t.collection]; prev != nil {
		return prev
	}
	e.tables[t.collection] = t
	return t
}

// newTable names the tables of a collection (creating nothing).
func (e *Engine) newTable(collection string) *table {
	t := &table{
		collection: collection,
		ident:      pgx.Identifier{e.schema, ident(collection, "")},
		name:       e.qualified(ident(collection, "")),
		events:     e.qualified(ident(collection, "#ev")),
		cols:       map[string]bool{},
	}
	t.regclass = t.name
	return t
}

// lookupTable returns the tables of a collection if they exist, creating
// nothing (no DDL, no lock): storage.ErrNotFound otherwise.
func (e *Engine) lookupTable(ctx context.Context, collection string) (*table, error) {
	if collection == "" {
		return nil, fmt.Errorf("postgres: empty collection name: %w", storage.ErrInvalid)
	}
	if t := e.cached(collection); t != nil {
		return t, nil
	}
	t := e.newTable(collection)
	var states, events *string
	if err := e.pool.QueryRow(ctx, "SELECT to_regclass($1)::text, to_regclass($2)::text", t.name, t.events).Scan(&states, &events); err != nil {
		return nil, e.wrap(fmt.Errorf("postgres: looking up collection %q: %w", collection, err))
	}
	if states == nil || events == nil { // made in one transaction: both or neither
		return nil, fmt.Errorf("postgres: no collection %q in schema %q: %w", collection, e.schema, storage.ErrNotFound)
	}
	if err := t.loadColumns(ctx, e.pool); err != nil {
		return nil, e.wrap(fmt.Errorf("postgres: looking up collection %q: %w", collection, err))
	}
	return e.cache(t), nil
}

// querier is what loadColumns needs of a pool, connection or transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadColumns reads the table's columns from the catalog (in the caller's
// snapshot) into the cache.
func (t *table) loadColumns(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped", t.regclass)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range names {
		t.cols[n] = true
	}
	return nil
}

// has reports whether a column is known to exist.
func (t *table) has(col string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.cols[col]
}

// missing returns the columns of need not known to exist.
func (t *table) missing(need []string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for _, c := range need {
		if !t.cols[c] {
			out = append(out, c)
		}
	}
	return out
}

// addColumns adds columns (names made by column()) inside a DDL
// transaction. It first re-reads the catalog, so that columns another
// engine added are not altered again (ALTER TABLE locks the table).
func (t *table) addColumns(ctx context.Context, tx pgx.Tx, cols []string) error {
	if err := t.loadColumns(ctx, tx); err != nil {
		return err
	}
	cols = t.missing(cols)
	if len(cols) == 0 {
		return nil
	}
	q := "ALTER TABLE " + t.name
	for i, c := range cols {
		if i > 0 {
			q += ","
		}
		q += " ADD COLUMN IF NOT EXISTS " + pgx.Identifier{c}.Sanitize() + " " + kindType[kindOfColumn(c)]
	}
	if _, err := tx.Exec(ctx, q); err != nil {
		return fmt.Errorf("postgres: adding columns to %s: %w", t.name, err)
	}
	return nil
}

// ensureColumns makes sure the columns exist, adding the missing ones in a
// transaction of their own (before, never inside, a write transaction, so a
// write never holds the table's DDL lock).
func (e *Engine) ensureColumns(ctx context.Context, t *table, cols []string) error {
	if len(t.missing(cols)) == 0 {
		return nil
	}
	err := e.ddl(ctx, func(tx pgx.Tx) error {
		if err := t.addColumns(ctx, tx, cols); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return e.wrap(err)
	}
	e.log.Debug("postgres: added columns", "collection", t.collection, "columns", cols)
	t.markColumns(cols)
	return nil
}

// markColumns records columns known to exist.
func (t *table) markColumns(cols []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range cols {
		t.cols[c] = true
	}
}
