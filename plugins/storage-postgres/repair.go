package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Row kinds of storage.BadRow and RemoveRow.
const (
	kindState = "state"
	kindEvent = "event"
)

var (
	_ storage.CollectionLooker = (*Engine)(nil)
	_ storage.Repairer         = (*Engine)(nil)
	_ storage.CollectionLister = (*Engine)(nil)
)

// skip reports a row a read leaves out because it does not decode.
func (e *Engine) skip(ctx context.Context, collection, kind string, key []byte, err error) {
	storage.ReportBadRow(ctx, e.log, storage.BadRow{Collection: collection, Kind: kind, Key: slices.Clone(key), Err: err})
}

// LookupCollection opens a collection whose tables exist and creates
// nothing (no DDL, no lock): another name is an error wrapping
// storage.ErrNotFound.
func (e *Engine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	t, err := e.lookupTable(ctx, name)
	if err != nil {
		return nil, err
	}
	return e.newCollection(t), nil
}

// maxNameProbe bounds the rows Collections reads of a table whose name is
// hashed (see ident) to find one that decodes and names its collection.
const maxNameProbe = 1000

// Collections returns the names of the schema's collections, sorted. A
// collection whose name is plain is named by its table; one whose table
// name is hashed is named by the first of its states that decodes, and is
// left out (with a warning) when none of the first rows does: name it
// yourself then, as `ankurah admin bad-rows` lets you.
func (e *Engine) Collections(ctx context.Context) ([]string, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := e.pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`, e.schema)
	if err != nil {
		return nil, e.wrap(fmt.Errorf("postgres: listing collections of schema %q: %w", e.schema, err))
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, e.wrap(fmt.Errorf("postgres: listing collections of schema %q: %w", e.schema, err))
	}
	var out []string
	for _, rel := range tables {
		switch {
		case strings.Contains(rel, "#"): // "#format", "<collection>#ev": never a states table
		case !strings.Contains(rel, "~"): // a plain name is its own table name
			out = append(out, rel)
		default:
			name, err := e.probeName(ctx, rel)
			if err != nil {
				return nil, err
			}
			if name == "" {
				e.log.WarnContext(ctx, "postgres: cannot tell the collection of a table with a hashed name: none of its first states decodes",
					"schema", e.schema, "table", rel)
				continue
			}
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// probeName returns the collection a hashed table name stands for, read
// from its states, or "" when none of the first maxNameProbe decodes.
func (e *Engine) probeName(ctx context.Context, rel string) (string, error) {
	rows, err := e.pool.Query(ctx, fmt.Sprintf("SELECT state FROM %s LIMIT %d", e.qualified(rel), maxNameProbe))
	if err != nil {
		return "", e.wrap(fmt.Errorf("postgres: reading table %q: %w", rel, err))
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return "", e.wrap(fmt.Errorf("postgres: reading table %q: %w", rel, err))
		}
		if s, err := entity.Decode(b); err == nil && ident(s.Collection, "") == rel {
			return s.Collection, nil
		}
	}
	return "", e.wrap(rows.Err())
}

// BadRows calls f for every state and then every event of a collection that
// does not decode, reading each table once; f is called after the reads,
// so it may write (remove the rows, say). A collection whose tables do not
// exist is storage.ErrNotFound.
func (e *Engine) BadRows(ctx context.Context, collection string, f func(storage.BadRow) error) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	t, err := e.lookupTable(ctx, collection)
	if err != nil {
		return err
	}
	var bad []storage.BadRow
	scan := func(q, kind string, decode func([]byte) error) error {
		rows, err := e.pool.Query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, b []byte
			if err := rows.Scan(&k, &b); err != nil {
				return err
			}
			if err := decode(b); err != nil {
				bad = append(bad, storage.BadRow{Collection: collection, Kind: kind, Key: k, Err: err})
			}
		}
		return rows.Err()
	}
	if err := scan("SELECT id, state FROM "+t.name+" ORDER BY id", kindState, func(b []byte) error { _, err := entity.Decode(b); return err }); err != nil {
		return e.wrap(fmt.Errorf("postgres: bad rows of %q: %w", collection, err))
	}
	if err := scan("SELECT id, event FROM "+t.events+" ORDER BY id", kindEvent, func(b []byte) error { _, err := event.Decode(b); return err }); err != nil {
		return e.wrap(fmt.Errorf("postgres: bad rows of %q: %w", collection, err))
	}
	for _, r := range bad {
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}

// RemoveRow deletes a state's row (kind "state", key the entity id; its
// typed columns and SQL index entries go with it) or an event's row (kind
// "event", key the event id), whether it decodes or not. A row that is not
// stored is storage.ErrNotFound.
func (e *Engine) RemoveRow(ctx context.Context, collection, kind string, key []byte) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	var table string
	switch kind {
	case kindState, kindEvent:
	default:
		return fmt.Errorf("postgres: remove row: kind %q, want %q or %q: %w", kind, kindState, kindEvent, storage.ErrInvalid)
	}
	t, err := e.lookupTable(ctx, collection)
	if err != nil {
		return err
	}
	table = t.name
	if kind == kindEvent {
		table = t.events
	}
	tag, err := e.pool.Exec(ctx, "DELETE FROM "+table+" WHERE id = $1", key)
	if err != nil {
		return e.wrap(fmt.Errorf("postgres: remove %s %x of %q: %w", kind, key, collection, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: remove %s %x of %q: %w", kind, key, collection, storage.ErrNotFound)
	}
	e.log.InfoContext(ctx, "postgres: row removed", "collection", collection, "kind", kind, "key", fmt.Sprintf("%x", key))
	return nil
}
