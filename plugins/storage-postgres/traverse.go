package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// Traversal as joins. A selection that follows references
// (`artist.label.country = 'UK'` on albums) is one statement: the
// collection's table LEFT JOINs, per distinct prefix of the paths, the
// table of the collection the reference leads to, on its id equal to the
// previous table's ref column and on what the caller may read of it (the
// node's Readable: read filter, not deleted). A dangling, NULL or non-ref
// reference, or an unreadable entity, leaves the joined row NULL, so every
// comparison on the path is NULL (unknown) and IS NULL on it is true — the
// node's three-valued rules — and the predicate compiles as any other, each
// path read from its last table's columns.
//
// Rows that SQL cannot hold exactly (residual) are never decided in SQL:
// the collection's own go back as candidates, as in FetchStates; a joined
// table's can make a path's SQL value differ from the exact one. The
// statement therefore also reports whether any joined table has residual
// rows; when one has, the selection is run again keeping every row whose
// path passes through one, for the node's exact program to decide.

// joinCollection is a collection that evaluates traversals as joins.
type joinCollection struct{ *collection }

var _ storage.Traverser = joinCollection{}

// newCollection returns the Collection of a table: a storage.Traverser
// unless WithoutTraversalJoins.
func (e *Engine) newCollection(t *table) storage.Collection {
	c := &collection{e: e, t: t}
	if e.noJoins {
		return c
	}
	return joinCollection{c}
}

// pathCol is where a traversal path's value is read: a joined table and
// the path in it.
type pathCol struct {
	t     *table
	alias string
	rest  query.Path
}

// at runs f with the planner reading pc's table.
func (p *planner) at(pc *pathCol, f func() (string, bool)) (string, bool) {
	t, alias := p.t, p.alias
	p.t, p.alias = pc.t, pc.alias
	defer func() { p.t, p.alias = t, alias }()
	return f()
}

// FetchTraversal implements storage.Traverser with joins.
func (c joinCollection) FetchTraversal(ctx context.Context, sel *storage.TraversalSelection) ([]entity.State, error) {
	if err := c.e.checkOpen(); err != nil {
		return nil, err
	}
	if sel == nil || sel.Bound == nil {
		return nil, fmt.Errorf("postgres: a traversal without a selection: %w", storage.ErrInvalid)
	}
	b := sel.Bound
	c.e.joinFetches.Add(1)
	if b.Limit == 0 {
		return []entity.State{}, nil
	}
	tables := map[string]*table{}
	for _, pth := range sel.Paths {
		if len(pth.Hops) == 0 || len(pth.Hops) > query.MaxTraversalDepth {
			return nil, fmt.Errorf("postgres: traversal path %q follows %d references: %w", pth.Key, len(pth.Hops), storage.ErrInvalid)
		}
		for _, h := range pth.Hops {
			if tables[h.Target] != nil {
				continue
			}
			t, err := c.e.lookupTable(ctx, h.Target)
			if errors.Is(err, storage.ErrNotFound) {
				t = c.e.newTable(h.Target)
				t.absent = true
			} else if err != nil {
				return nil, err
			}
			tables[h.Target] = t
		}
	}
	var pushed, flagged []entity.State
	run := func(q rowQuerier) (*sqlPlan, error) {
		p := planJoin(c.t, tables, sel, false)
		var residual bool
		var err error
		pushed, flagged, residual, err = c.runPlan(ctx, q, p)
		if err == nil && residual {
			p = planJoin(c.t, tables, sel, true)
			pushed, flagged, _, err = c.runPlan(ctx, q, p)
		}
		return p, err
	}
	p := planJoin(c.t, tables, sel, false)
	absent := false
	for _, t := range tables {
		absent = absent || t.absent
	}
	var err error
	if p.missing || absent {
		// Read the catalog (tables made since, columns added since) and
		// the rows in one snapshot, as FetchStates does.
		err = pgx.BeginTxFunc(ctx, c.e.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if err := c.t.loadColumns(ctx, tx); err != nil {
				return err
			}
			for coll, t := range tables {
				if t.absent {
					var reg *string
					if err := tx.QueryRow(ctx, "SELECT to_regclass($1)::text", t.name).Scan(&reg); err != nil {
						return err
					}
					if reg == nil {
						continue
					}
					t = c.e.newTable(coll)
					tables[coll] = t
				}
				if err := t.loadColumns(ctx, tx); err != nil {
					return err
				}
			}
			var err error
			p, err = run(tx)
			return err
		})
	} else {
		p, err = run(c.e.pool)
	}
	if err != nil {
		return nil, c.e.wrap(fmt.Errorf("postgres: fetching from %q: %w", c.t.collection, err))
	}
	if p.exact && len(flagged) == 0 {
		if b.HasLimit() && int64(len(pushed)) > b.Limit {
			pushed = pushed[:b.Limit] // see runPlan
		}
		return pushed, nil
	}
	all := pushed
	if len(flagged) > 0 {
		seen := make(map[id.EntityID]bool, len(pushed))
		for _, s := range pushed {
			seen[s.ID] = true
		}
		for _, s := range flagged {
			if !seen[s.ID] {
				all = append(all, s)
			}
		}
	}
	// Candidates the SQL could not decide stay in (the node decides);
	// only the order and the limit are applied here.
	return storage.Residual(all, nil, b.OrderBy, b.Limit)
}

// planJoin translates a traversal selection to one statement (see the top
// of this file). With unsure, rows whose paths pass through a residual row
// of a joined table are kept whatever the predicate says; without, the
// statement's third column tells whether any joined table has one.
func planJoin(base *table, tables map[string]*table, sel *storage.TraversalSelection, unsure bool) *sqlPlan {
	p := &planner{t: base, alias: "b", paths: map[string]*pathCol{}}
	out := &sqlPlan{whereExact: true, limitArg: -1, third: true}
	var joins strings.Builder
	aliases := map[string]string{} // prefix of a path's properties -> alias
	var joined []*table
	var residuals []string
	for _, pth := range sel.Paths {
		prevAlias, prevTable, prefix := "b", base, ""
		for _, h := range pth.Hops {
			prefix += "\x00" + h.Property
			alias, ok := aliases[prefix]
			t := tables[h.Target]
			if !ok {
				alias = "h" + strconv.Itoa(len(aliases)+1)
				aliases[prefix] = alias
				joined = append(joined, t)
				p.t, p.alias = prevTable, prevAlias
				ref := p.col(h.Property, kRef)
				p.t, p.alias = t, alias
				if ref == "" {
					ref = "NULL::bytea"
				}
				from := t.name
				if t.absent {
					from = "(SELECT NULL::bytea AS id, false AS residual WHERE false)"
				}
				joins.WriteString(" LEFT JOIN " + from + " AS " + alias + " ON " + alias + ".id = " + ref)
				if r := sel.Readable[h.Target]; r != nil {
					cond := p.conjuncts(r)
					if unsure {
						cond = "(" + alias + ".residual OR " + cond + ")"
					}
					joins.WriteString(" AND " + cond)
				}
				residuals = append(residuals, alias+".residual IS TRUE")
				p.t, p.alias = base, "b"
			}
			prevAlias, prevTable = alias, t
		}
		p.paths[pth.Key] = &pathCol{t: prevTable, alias: prevAlias, rest: pth.Rest}
	}
	p.t, p.alias = base, "b"
	var where []string
	for _, term := range query.Conjuncts(sel.Bound.Where) {
		n := len(p.args)
		s, ok := p.expr(term)
		if len(p.args) > maxParams {
			ok = false
		}
		if !ok {
			p.args = p.args[:n]
			out.whereExact = false
			continue
		}
		where = append(where, s)
	}
	var q strings.Builder
	q.WriteString("SELECT " + rowExprOf("b") + " FROM " + base.name + " AS b" + joins.String() + " WHERE NOT b.residual")
	if len(where) > 0 {
		cond := strings.Join(where, " AND ")
		if unsure {
			cond = "((" + cond + ") IS TRUE OR " + strings.Join(residuals, " OR ") + ")"
		}
		q.WriteString(" AND " + cond)
	}
	orderSQL, orderOK := p.order(sel.Bound.OrderBy)
	if orderOK {
		q.WriteString(" ORDER BY " + orderSQL)
	}
	out.exact = out.whereExact && orderOK
	if out.exact && sel.Bound.HasLimit() {
		q.WriteString(" LIMIT " + p.arg(sel.Bound.Limit))
		out.limitArg = len(p.args) - 1
	}
	third := "FALSE"
	if !unsure {
		var ex []string
		seen := map[*table]bool{}
		for _, t := range joined {
			if !t.absent && !seen[t] {
				seen[t] = true
				ex = append(ex, "EXISTS(SELECT 1 FROM "+t.name+" WHERE residual)")
			}
		}
		if len(ex) > 0 {
			third = strings.Join(ex, " OR ")
		}
	}
	out.sql = "SELECT ARRAY(" + q.String() + "), ARRAY(SELECT " + rowExpr + " FROM " + base.name + " WHERE residual), " + third
	out.args = p.args
	out.missing = p.missing
	return out
}

// conjuncts translates a predicate's conjuncts that SQL holds exactly,
// leaving out the others (a superset: an entity is followed where the
// exact program may not, which then decides).
func (p *planner) conjuncts(e query.Expr) string {
	var parts []string
	for _, term := range query.Conjuncts(e) {
		n := len(p.args)
		s, ok := p.expr(term)
		if !ok || len(p.args) > maxParams {
			p.args = p.args[:n]
			continue
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "TRUE"
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// rowExprOf is rowExpr of a table alias.
func rowExprOf(alias string) string {
	return "int4send(octet_length(" + alias + ".id)) || " + alias + ".id || " + alias + ".state"
}
