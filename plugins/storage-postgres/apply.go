package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

// row is one state encoded for its table.
type row struct {
	id       []byte
	head     []byte
	state    []byte
	residual bool
	expected []byte // nil for a new entity
	cols     map[string]any
}

// encodeState turns a state into a row: the exact State in CBOR plus one
// typed column per materialized non-NULL value.
func encodeState(sw storage.StateWrite) (row, error) {
	s := sw.State
	enc, err := s.Encode()
	if err != nil {
		return row{}, fmt.Errorf("postgres: encoding state %s: %w", s.ID, err)
	}
	head, err := event.EncodeClock(s.Head)
	if err != nil {
		return row{}, fmt.Errorf("postgres: encoding head of %s: %w", s.ID, err)
	}
	r := row{id: append([]byte(nil), s.ID[:]...), head: head, state: enc, cols: make(map[string]any, s.Values.Len()+1)}
	if len(sw.Expected) > 0 {
		if r.expected, err = event.EncodeClock(sw.Expected); err != nil {
			return row{}, fmt.Errorf("postgres: encoding expected head of %s: %w", s.ID, err)
		}
	}
	for p, v := range s.Values.All() {
		switch k := kindOf(v); k {
		case -1:
		case kBool:
			b, _ := v.AsBool()
			r.cols[column(p, k)] = b
		case kNum:
			r.cols[column(p, k)] = numeric(v)
		case kString:
			if str, _ := v.AsString(); textSafe(str) {
				r.cols[column(p, k)] = str
			} else {
				r.residual = true
			}
		case kBytes, kRef:
			r.cols[column(p, k)] = []byte(v.Raw())
		case kJSONText:
			r.cols[column(p, k)] = v.Raw()
			if j, ok := jsonbText(v.Raw()); ok {
				r.cols[column(p, kJSON)] = j
			} else {
				r.residual = true
			}
		}
	}
	return r, nil
}

type applyGroup struct {
	t      *table
	events []event.Event
	rows   []row
	ids    []id.EntityID
}

// Apply writes a batch in one transaction: events, then states. A state
// whose stored head is not its expected head fails the batch with
// storage.ErrConflict and nothing is written.
func (e *Engine) Apply(ctx context.Context, b *storage.Batch) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if b == nil || (len(b.Events) == 0 && len(b.States) == 0) {
		return nil
	}
	groups := map[string]*applyGroup{}
	feedStates := make([][]byte, 0, len(b.States))
	group := func(name string) *applyGroup {
		g := groups[name]
		if g == nil {
			g = &applyGroup{}
			groups[name] = g
		}
		return g
	}
	for i, ev := range b.Events {
		if ev.Collection == "" {
			return fmt.Errorf("postgres: event %d of the batch has no collection: %w", i, storage.ErrInvalid)
		}
		g := group(ev.Collection)
		g.events = append(g.events, ev)
	}
	for i, sw := range b.States {
		if sw.State.Collection == "" {
			return fmt.Errorf("postgres: state %d of the batch (%s) has no collection: %w", i, sw.State.ID, storage.ErrInvalid)
		}
		r, err := encodeState(sw)
		if err != nil {
			return err
		}
		feedStates = append(feedStates, r.state)
		g := group(sw.State.Collection)
		g.rows = append(g.rows, r)
		g.ids = append(g.ids, sw.State.ID)
	}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		g := groups[n]
		t, err := e.table(ctx, n)
		if err != nil {
			return err
		}
		g.t = t
		var need []string
		seen := map[string]bool{}
		for _, r := range g.rows {
			for c := range r.cols {
				if !seen[c] {
					seen[c] = true
					need = append(need, c)
					if kindOfColumn(c) == kJSONText {
						// Keep the jsonb twin even when this value cannot be jsonb.
						need = append(need, strings.TrimSuffix(c, kindSuffix[kJSONText])+kindSuffix[kJSON])
					}
				}
			}
		}
		if err := e.ensureColumns(ctx, t, need); err != nil {
			return err
		}
	}

	// First one pipelined batch: the deletes of every updated row (first,
	// so that they give the transaction its id: see "Ordering" in the
	// package documentation), every event insert and the feed row; then the
	// new rows with COPY (a row already stored is a unique violation, so a
	// conflict). An entity written twice in a batch takes a second round.
	first := &pgx.Batch{}
	var firstChecks []check
	var copies []copyStep
	var later []func(tx pgx.Tx) error
	var firstDeletes []*deleteStep
	for _, n := range names {
		g := groups[n]
		for r, round := range rounds(g) {
			del := deleteStmt(g.t, round)
			cp := copyRows(g.t, round)
			if r == 0 {
				if del != nil {
					firstDeletes = append(firstDeletes, del)
				}
				copies = append(copies, cp)
				continue
			}
			later = append(later, func(tx pgx.Tx) error {
				if del != nil {
					q, c := del.query()
					b := &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{q}}
					if err := runBatch(ctx, tx, b, []check{c}); err != nil {
						return err
					}
				}
				return cp.run(ctx, tx)
			})
		}
	}
	// One statement, so one snapshot, checks every expected head.
	if len(firstDeletes) > 0 {
		del, delCheck := deletesQuery(firstDeletes)
		first.Queue(del.SQL, del.Arguments...)
		firstChecks = append(firstChecks, delCheck)
	}
	for _, n := range names {
		if g := groups[n]; len(g.events) > 0 {
			if err := queueEvents(first, g); err != nil {
				return err
			}
			firstChecks = append(firstChecks, check{want: -1})
		}
	}
	if !e.feedOff.Load() {
		before := first.Len()
		e.queueFeed(first, feedStates)
		for range first.Len() - before {
			firstChecks = append(firstChecks, check{want: -1})
		}
	}
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if first.Len() > 0 {
			if err := runBatch(ctx, tx, first, firstChecks); err != nil {
				return err
			}
		}
		for _, cp := range copies {
			if err := cp.run(ctx, tx); err != nil {
				return err
			}
		}
		for _, f := range later {
			if err := f(tx); err != nil {
				return err
			}
		}
		return nil
	})
	return e.wrap(mapConflict(err))
}

// runBatch sends a batch and checks the rows each statement affected.
func runBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, checks []check) error {
	br := tx.SendBatch(ctx, b)
	for _, c := range checks {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return err
		}
		if c.want >= 0 && tag.RowsAffected() != c.want {
			_ = br.Close()
			return fmt.Errorf("postgres: collection %q: %d of %d %s: %w",
				c.collection, c.want-tag.RowsAffected(), c.want, c.what, storage.ErrConflict)
		}
	}
	return br.Close()
}

// check is what one queued statement must affect (want < 0: anything).
type check struct {
	collection string
	what       string
	want       int64
}

// mapConflict reports deadlocks and serialization failures between
// concurrent writers as storage.ErrConflict.
func mapConflict(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "40P01", "40001":
			return fmt.Errorf("postgres: concurrent write: %s: %w", pg.Message, storage.ErrConflict)
		case "23505": // only the id key is unique: a new entity that is already stored
			return fmt.Errorf("postgres: a new entity is already stored (%s): %w", pg.Detail, storage.ErrConflict)
		}
	}
	return err
}

func queueEvents(batch *pgx.Batch, g *applyGroup) error {
	ids := make([][]byte, len(g.events))
	ents := make([][]byte, len(g.events))
	data := make([][]byte, len(g.events))
	for i := range g.events {
		ev := &g.events[i]
		enc, err := ev.Encode()
		if err != nil {
			return fmt.Errorf("postgres: encoding event: %w", err)
		}
		eid := sha256.Sum256(enc) // an event's id is the hash of its encoding (event.ID)
		ids[i], ents[i], data[i] = eid[:], append([]byte(nil), ev.Entity[:]...), enc
	}
	batch.Queue("INSERT INTO "+g.t.events+" (id, entity, event) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) ON CONFLICT (id) DO NOTHING", ids, ents, data)
	return nil
}

// rounds splits a collection's state writes so that no entity appears
// twice in a round, keeping the batch's order for each entity.
func rounds(g *applyGroup) [][]row {
	var out [][]row
	count := make(map[id.EntityID]int, len(g.rows))
	for i, r := range g.rows {
		n := count[g.ids[i]]
		count[g.ids[i]] = n + 1
		if n == len(out) {
			out = append(out, nil)
		}
		out[n] = append(out[n], r)
	}
	return out
}

// deleteStep removes the updated rows of a round that are at their
// expected head; its check fails the batch when some were not.
type deleteStep struct {
	t          *table
	ids, heads [][]byte
}

// deleteStmt returns the delete of a round's updated rows, nil when the
// round only creates.
func deleteStmt(t *table, rows []row) *deleteStep {
	d := &deleteStep{t: t}
	for _, r := range rows {
		if r.expected != nil {
			d.ids = append(d.ids, r.id)
			d.heads = append(d.heads, r.expected)
		}
	}
	if len(d.ids) == 0 {
		return nil
	}
	return d
}

// using is the statement's body with its arguments numbered from n+1.
func (d *deleteStep) using(n int) string {
	return fmt.Sprintf("DELETE FROM %s AS t USING unnest($%d::bytea[], $%d::bytea[]) AS x(id, head) WHERE t.id = x.id AND t.head = x.head", d.t.name, n+1, n+2)
}

func (d *deleteStep) query() (*pgx.QueuedQuery, check) {
	return &pgx.QueuedQuery{SQL: d.using(0), Arguments: []any{d.ids, d.heads}},
		check{d.t.collection, "states not at their expected head", int64(len(d.ids))}
}

// deletesQuery makes one statement of the deletes of several collections,
// so that one snapshot checks every expected head. With more than one, it
// returns one row when every delete removed all its rows, none otherwise.
func deletesQuery(dels []*deleteStep) (*pgx.QueuedQuery, check) {
	if len(dels) == 1 {
		return dels[0].query()
	}
	var ctes, conds, names []string
	var args []any
	for i, d := range dels {
		ctes = append(ctes, fmt.Sprintf("d%d AS (%s RETURNING 1)", i, d.using(len(args))))
		conds = append(conds, fmt.Sprintf("(SELECT count(*) FROM d%d) = %d", i, len(d.ids)))
		args = append(args, d.ids, d.heads)
		names = append(names, d.t.collection)
	}
	return &pgx.QueuedQuery{SQL: "WITH " + strings.Join(ctes, ", ") + " SELECT 1 WHERE " + strings.Join(conds, " AND "), Arguments: args},
		check{strings.Join(names, ", "), "batches whose states were all at their expected heads", 1}
}

// copyStep writes new rows with COPY.
type copyStep struct {
	t    *table
	cols []string
	rows [][]any
}

func copyRows(t *table, rows []row) copyStep {
	colSet := map[string]bool{}
	for _, r := range rows {
		for c := range r.cols {
			colSet[c] = true
		}
	}
	extra := make([]string, 0, len(colSet))
	for c := range colSet {
		extra = append(extra, c)
	}
	slices.Sort(extra)
	cp := copyStep{t: t, cols: append([]string{"id", "head", "state", "residual"}, extra...)}
	for _, r := range rows {
		vals := make([]any, len(cp.cols))
		vals[0], vals[1], vals[2], vals[3] = r.id, r.head, r.state, r.residual
		for i, c := range extra {
			vals[4+i] = r.cols[c] // nil (NULL) when the state has no such value
		}
		cp.rows = append(cp.rows, vals)
	}
	return cp
}

func (cp copyStep) run(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.CopyFrom(ctx, cp.t.ident, cp.cols, pgx.CopyFromRows(cp.rows))
	return err
}
