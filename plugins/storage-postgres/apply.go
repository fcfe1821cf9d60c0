package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ankurah/ankurah-go/core/entity"
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
	r := row{id: append([]byte(nil), s.ID[:]...), head: head, state: enc, cols: make(map[string]any, len(s.Values)+1)}
	if len(sw.Expected) > 0 {
		if r.expected, err = event.EncodeClock(sw.Expected); err != nil {
			return row{}, fmt.Errorf("postgres: encoding expected head of %s: %w", s.ID, err)
		}
	}
	for p, v := range s.Values {
		switch k := kindOf(v); k {
		case -1:
		case kBool:
			b, _ := v.AsBool()
			r.cols[column(p, k)] = pgtype.Bool{Bool: b, Valid: true}
		case kNum:
			r.cols[column(p, k)] = pgtype.Text{String: numText(v), Valid: true}
		case kString:
			if str, _ := v.AsString(); textSafe(str) {
				r.cols[column(p, k)] = pgtype.Text{String: str, Valid: true}
			} else {
				r.residual = true
			}
		case kBytes, kRef:
			r.cols[column(p, k)] = []byte(v.Raw())
		case kJSONText:
			r.cols[column(p, k)] = pgtype.Text{String: v.Raw(), Valid: true}
			if j, ok := jsonbText(v.Raw()); ok {
				r.cols[column(p, kJSON)] = pgtype.Text{String: j, Valid: true}
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

	batch := &pgx.Batch{}
	var checks []check
	for _, n := range names {
		g := groups[n]
		if len(g.events) > 0 {
			if err := queueEvents(batch, g, &checks); err != nil {
				return err
			}
		}
		if err := queueStates(batch, g, &checks); err != nil {
			return err
		}
	}
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		br := tx.SendBatch(ctx, batch)
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
	})
	return e.wrap(mapConflict(err))
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
	if errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001") {
		return fmt.Errorf("postgres: concurrent write: %s: %w", pg.Message, storage.ErrConflict)
	}
	return err
}

func queueEvents(batch *pgx.Batch, g *applyGroup, checks *[]check) error {
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
	*checks = append(*checks, check{want: -1})
	return nil
}

// queueStates queues the state writes of a collection: in rounds, so that
// an entity written twice in one batch is written in order.
func queueStates(batch *pgx.Batch, g *applyGroup, checks *[]check) error {
	rest := g.rows
	restIDs := g.ids
	for len(rest) > 0 {
		var round, later []row
		var laterIDs []id.EntityID
		seen := map[id.EntityID]bool{}
		for i, r := range rest {
			if seen[restIDs[i]] {
				later = append(later, r)
				laterIDs = append(laterIDs, restIDs[i])
				continue
			}
			seen[restIDs[i]] = true
			round = append(round, r)
		}
		queueRound(batch, g.t, round, checks)
		rest, restIDs = later, laterIDs
	}
	return nil
}

func queueRound(batch *pgx.Batch, t *table, rows []row, checks *[]check) {
	var delIDs, delHeads [][]byte
	for _, r := range rows {
		if r.expected != nil {
			delIDs = append(delIDs, r.id)
			delHeads = append(delHeads, r.expected)
		}
	}
	if len(delIDs) > 0 {
		batch.Queue("DELETE FROM "+t.name+" AS t USING unnest($1::bytea[], $2::bytea[]) AS x(id, head) WHERE t.id = x.id AND t.head = x.head", delIDs, delHeads)
		*checks = append(*checks, check{t.collection, "states not at their expected head", int64(len(delIDs))})
	}
	colSet := map[string]bool{}
	for _, r := range rows {
		for c := range r.cols {
			colSet[c] = true
		}
	}
	cols := make([]string, 0, len(colSet))
	for c := range colSet {
		cols = append(cols, c)
	}
	slices.Sort(cols)

	n := len(rows)
	ids, heads, states := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	residual := make([]bool, n)
	for i, r := range rows {
		ids[i], heads[i], states[i], residual[i] = r.id, r.head, r.state, r.residual
	}
	args := []any{ids, heads, states, residual}
	var target, sel, unnest strings.Builder
	target.WriteString("id, head, state, residual")
	sel.WriteString("u.c1, u.c2, u.c3, u.c4")
	unnest.WriteString("$1::bytea[], $2::bytea[], $3::bytea[], $4::boolean[]")
	for _, c := range cols {
		k := kindOfColumn(c)
		var arr any
		var arrType, cast string
		switch k {
		case kBool:
			a := make([]pgtype.Bool, n)
			for i, r := range rows {
				if v, ok := r.cols[c]; ok {
					a[i] = v.(pgtype.Bool)
				}
			}
			arr, arrType = a, "boolean[]"
		case kBytes, kRef:
			a := make([][]byte, n)
			for i, r := range rows {
				if v, ok := r.cols[c]; ok {
					a[i] = v.([]byte)
				}
			}
			arr, arrType = a, "bytea[]"
		default:
			a := make([]pgtype.Text, n)
			for i, r := range rows {
				if v, ok := r.cols[c]; ok {
					a[i] = v.(pgtype.Text)
				}
			}
			arr, arrType = a, "text[]"
			switch k {
			case kNum:
				cast = "::numeric"
			case kJSON:
				cast = "::jsonb"
			}
		}
		args = append(args, arr)
		p := strconv.Itoa(len(args))
		target.WriteString(", " + pgx.Identifier{c}.Sanitize())
		sel.WriteString(", u.c" + p + cast)
		unnest.WriteString(", $" + p + "::" + arrType)
	}
	var alias strings.Builder
	for i := range args {
		if i > 0 {
			alias.WriteString(", ")
		}
		alias.WriteString("c" + strconv.Itoa(i+1))
	}
	q := "INSERT INTO " + t.name + " (" + target.String() + ") SELECT " + sel.String() +
		" FROM unnest(" + unnest.String() + ") AS u(" + alias.String() + ") ON CONFLICT (id) DO NOTHING"
	batch.Queue(q, args...)
	*checks = append(*checks, check{t.collection, "new states already stored", int64(n)})
}

// decodeState decodes a stored state.
func decodeState(b []byte) (entity.State, error) {
	s, err := entity.Decode(b)
	if err != nil {
		return s, fmt.Errorf("postgres: stored state: %w", err)
	}
	return s, nil
}
