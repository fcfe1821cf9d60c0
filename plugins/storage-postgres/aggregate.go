package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

var _ storage.Aggregator = (*collection)(nil)

// Aggregate computes an aggregate in SQL: one GROUP BY over the typed
// columns of the rows the selection's predicate matches exactly, merged
// with the flagged rows (whose values SQL cannot hold exactly) aggregated
// in Go. A predicate that cannot be pushed down whole, and min or max of a
// property holding bytes, JSON or refs (which have no SQL min), are
// storage.ErrNotPushedDown: the node aggregates a scan instead.
func (c *collection) Aggregate(ctx context.Context, sel *query.Bound, spec storage.AggregateSpec) ([]storage.GroupResult, error) {
	if err := c.e.checkOpen(); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if sel == nil {
		sel = &query.Bound{Limit: -1}
	}
	ap, err := planAggregate(c.t, sel, spec)
	if err != nil {
		return nil, err
	}
	var groups []storage.GroupResult
	var flagged []entity.State
	run := func(q aggQuerier) error {
		var err error
		if groups, err = c.runAggregate(ctx, q, ap); err != nil {
			return err
		}
		flagged, err = c.flaggedStates(ctx, q)
		return err
	}
	if ap.missing {
		err = pgx.BeginTxFunc(ctx, c.e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if err := c.t.loadColumns(ctx, tx); err != nil {
				return err
			}
			var err error
			if ap, err = planAggregate(c.t, sel, spec); err != nil {
				return err
			}
			return run(tx)
		})
	} else {
		err = pgx.BeginTxFunc(ctx, c.e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error { return run(tx) })
	}
	if err != nil {
		if isNotPushed(err) {
			return nil, err
		}
		return nil, c.e.wrap(fmt.Errorf("postgres: aggregating %q: %w", c.t.collection, err))
	}
	if len(flagged) == 0 {
		storage.SortGroups(groups)
		return groups, nil
	}
	prog, err := query.Compile(&query.Bound{Where: sel.Where, Limit: -1}, nil)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	rest, err := storage.AggregateStates(flagged, prog, spec)
	if err != nil {
		return nil, err
	}
	return storage.MergeGroups(spec, groups, rest), nil
}

func isNotPushed(err error) bool { return errors.Is(err, storage.ErrNotPushedDown) }

func posInf() float64 { return math.Inf(1) }

type aggQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// flaggedStates reads the flagged rows (see sqlPlan).
func (c *collection) flaggedStates(ctx context.Context, q aggQuerier) ([]entity.State, error) {
	var raw [][]byte
	if err := q.QueryRow(ctx, "SELECT ARRAY(SELECT "+rowExpr+" FROM "+c.t.name+" WHERE residual)").Scan(&raw); err != nil {
		return nil, err
	}
	states, bad, err := c.decodeRows(raw, nil)
	for _, r := range bad {
		storage.ReportBadRow(ctx, c.e.log, r)
	}
	return states, err
}

// aggPlan is an aggregate translated to SQL; outs says how to read each
// selected column back.
type aggPlan struct {
	sql     string
	args    []any
	groups  [][]aggCol // per group-by property, its kind columns
	terms   []aggTerm
	missing bool
}

type aggCol struct {
	kind colKind
}

// aggTerm is how one term's columns read back: sum/avg select N, the
// finite sum and the infinities; min/max select, per kind column, its
// count and its extreme.
type aggTerm struct {
	op    storage.AggOp
	kinds []colKind // min/max
}

func planAggregate(t *table, sel *query.Bound, spec storage.AggregateSpec) (*aggPlan, error) {
	p := &planner{t: t}
	var where []string
	for _, term := range query.Conjuncts(sel.Where) {
		s, ok := p.expr(term)
		if !ok || len(p.args) > maxParams {
			return nil, fmt.Errorf("postgres: %w: the selection is not expressible in SQL", storage.ErrNotPushedDown)
		}
		where = append(where, s)
	}
	ap := &aggPlan{}
	var sels, groupBy []string
	for _, g := range spec.GroupBy {
		var cols []aggCol
		for _, k := range orderKinds {
			c := p.col(g, k)
			if c == "" {
				continue
			}
			cols = append(cols, aggCol{k})
			groupBy = append(groupBy, c)
			switch k {
			case kBytes, kRef:
				sels = append(sels, c)
			default:
				sels = append(sels, c+"::text")
			}
		}
		ap.groups = append(ap.groups, cols)
	}
	sels = append(sels, "count(*)")
	for _, a := range spec.Aggs {
		at := aggTerm{op: a.Op}
		switch a.Op {
		case storage.Sum, storage.Avg:
			c := p.col(a.Property, kNum)
			if c == "" {
				sels = append(sels, "0", "NULL::text", "0", "0")
			} else {
				finite := "(" + c + " <> 'Infinity'::numeric AND " + c + " <> '-Infinity'::numeric)"
				sels = append(sels, "count("+c+")",
					"(sum("+c+") FILTER (WHERE "+finite+"))::text",
					"count(*) FILTER (WHERE "+c+" = 'Infinity'::numeric)",
					"count(*) FILTER (WHERE "+c+" = '-Infinity'::numeric)")
			}
		case storage.Min, storage.Max:
			for _, k := range orderKinds {
				c := p.col(a.Property, k)
				if c == "" {
					continue
				}
				var ext string
				switch {
				case k == kBool && a.Op == storage.Min:
					ext = "bool_and(" + c + ")::text"
				case k == kBool:
					ext = "bool_or(" + c + ")::text"
				case k == kNum || k == kString:
					ext = strings.ToLower(a.Op.String()) + "(" + c + ")::text"
				default:
					return nil, fmt.Errorf("postgres: %w: %s of %q, which holds %s values", storage.ErrNotPushedDown, a.Op, a.Property, kindType[k])
				}
				at.kinds = append(at.kinds, k)
				sels = append(sels, "count("+c+")", ext)
			}
		}
		ap.terms = append(ap.terms, at)
	}
	var q strings.Builder
	q.WriteString("SELECT " + strings.Join(sels, ", ") + " FROM " + t.name + " WHERE NOT residual")
	for _, w := range where {
		q.WriteString(" AND " + w)
	}
	if len(groupBy) > 0 {
		q.WriteString(" GROUP BY " + strings.Join(groupBy, ", "))
	}
	ap.sql, ap.args, ap.missing = q.String(), p.args, p.missing
	return ap, nil
}

// runAggregate runs the plan and reads its groups.
func (c *collection) runAggregate(ctx context.Context, q aggQuerier, ap *aggPlan) ([]storage.GroupResult, error) {
	rows, err := q.Query(ctx, ap.sql, ap.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.GroupResult
	for rows.Next() {
		var targets []any
		var texts []*pgtype.Text
		var bytess []*[]byte
		addText := func() { t := new(pgtype.Text); texts = append(texts, t); targets = append(targets, t) }
		addBytes := func() { b := new([]byte); bytess = append(bytess, b); targets = append(targets, b) }
		var ints []*int64
		addInt := func() { i := new(int64); ints = append(ints, i); targets = append(targets, i) }
		for _, cols := range ap.groups {
			for _, col := range cols {
				if col.kind == kBytes || col.kind == kRef {
					addBytes()
				} else {
					addText()
				}
			}
		}
		addInt()
		for _, at := range ap.terms {
			switch at.op {
			case storage.Sum, storage.Avg:
				addInt()
				addText()
				addInt()
				addInt()
			default:
				for range at.kinds {
					addInt()
					addText()
				}
			}
		}
		if err := rows.Scan(targets...); err != nil {
			return nil, err
		}
		ti, bi, ii := 0, 0, 0
		g := storage.GroupResult{Key: make([]value.Value, len(ap.groups)), Accs: make([]storage.Acc, len(ap.terms))}
		for gi, cols := range ap.groups {
			key := value.Null
			for _, col := range cols {
				var v value.Value
				var ok bool
				if col.kind == kBytes || col.kind == kRef {
					b := *bytess[bi]
					bi++
					if b == nil {
						continue
					}
					v, ok = bytesValue(col.kind, b)
				} else {
					t := texts[ti]
					ti++
					if !t.Valid {
						continue
					}
					v, ok = textValue(col.kind, t.String)
				}
				if !ok {
					return nil, fmt.Errorf("postgres: a group key of %q does not read back: %w", c.t.collection, storage.ErrFormat)
				}
				key = v
			}
			g.Key[gi] = storage.NormalizeNumber(key)
		}
		g.Count = *ints[ii]
		ii++
		for j, at := range ap.terms {
			acc := &g.Accs[j]
			switch at.op {
			case storage.Sum, storage.Avg:
				acc.N = *ints[ii]
				if t := texts[ti]; t.Valid {
					s, _, err := big.ParseFloat(t.String, 10, storage.SumPrec, big.ToNearestEven)
					if err != nil {
						return nil, fmt.Errorf("postgres: a sum of %q does not read back: %w", c.t.collection, err)
					}
					acc.Sum = s
				}
				acc.PosInf, acc.NegInf = *ints[ii+1], *ints[ii+2]
				ii += 3
				ti++
			default:
				for _, k := range at.kinds {
					n := *ints[ii]
					t := texts[ti]
					ii++
					ti++
					if n == 0 || !t.Valid {
						continue
					}
					v, ok := textValue(k, t.String)
					if !ok {
						return nil, fmt.Errorf("postgres: a %s of %q does not read back: %w", at.op, c.t.collection, storage.ErrFormat)
					}
					// Kinds come in value order: min takes the first kind
					// with values, max the last.
					if acc.N == 0 || at.op == storage.Max {
						acc.Value = v
					}
					acc.N += n
				}
			}
		}
		if g.Count > 0 || len(ap.groups) == 0 {
			out = append(out, g)
		}
	}
	return out, rows.Err()
}

// textValue reads a bool, numeric or text column's text back as a value.
func textValue(k colKind, s string) (value.Value, bool) {
	switch k {
	case kBool:
		return value.Bool(s == "true"), s == "true" || s == "false"
	case kNum:
		switch s {
		case "Infinity":
			return value.Float(posInf()), true
		case "-Infinity":
			return value.Float(-posInf()), true
		}
		v, err := value.FromJSON([]byte(s))
		return v, err == nil && v.Kind().IsNumber()
	case kString:
		return value.String(s), true
	case kJSONText:
		v, err := value.JSON([]byte(s))
		return v, err == nil
	}
	return value.Null, false
}

func bytesValue(k colKind, b []byte) (value.Value, bool) {
	if k == kRef {
		var e id.EntityID
		if len(b) != len(e) {
			return value.Null, false
		}
		copy(e[:], b)
		return value.Ref(e), true
	}
	return value.Bytes(b), true
}
