package postgres

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// sqlPlan is a selection translated to SQL.
type sqlPlan struct {
	// sql selects two arrays of rows (see rowExpr): the unflagged rows
	// matching the pushed-down predicate (ordered and limited when that is
	// exact), and the flagged rows, whose values SQL cannot hold exactly and
	// which always go through the residual filter.
	sql  string
	args []any
	// limitArg is the index in args of the LIMIT, -1 when SQL has none.
	limitArg int
	// whereExact: the SQL predicate is exactly the selection's.
	whereExact bool
	// exact: predicate, order and limit are all in SQL.
	exact bool
	// third: the statement selects a third column, a boolean (planJoin's
	// residual rows in joined tables).
	third bool
	// missing: the query names a column not known to exist (and treated as
	// NULL); the caller re-reads the catalog and plans again.
	missing bool
}

type planner struct {
	t       *table
	args    []any
	missing bool
	// alias qualifies t's columns ("" for none); paths, for a selection
	// that follows references, maps each path's key to where its value is
	// read (traverse.go).
	alias string
	paths map[string]*pathCol
}

func (p *planner) arg(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

// col returns the quoted column of a property's kind, or "" when it does
// not exist (the caller then uses NULL).
func (p *planner) col(prop string, k colKind) string {
	if p.t.absent {
		return ""
	}
	c := column(prop, k)
	if !p.t.has(c) {
		p.missing = true
		return ""
	}
	return p.qual(pgx.Identifier{c}.Sanitize())
}

// qual qualifies a quoted column of t by its alias.
func (p *planner) qual(col string) string {
	if p.alias == "" {
		return col
	}
	return p.alias + "." + col
}

// plan translates a bound selection. Conjuncts that cannot be expressed
// exactly are left out (making the SQL a superset) and flagged for the
// residual filter.
func plan(t *table, sel *query.Bound) *sqlPlan {
	p := &planner{t: t}
	out := &sqlPlan{whereExact: true, limitArg: -1}
	var where []string
	for _, term := range query.Conjuncts(sel.Where) {
		n := len(p.args)
		s, ok := p.expr(term)
		if len(p.args) > maxParams {
			ok = false // PostgreSQL takes at most 65535 parameters a statement
		}
		if !ok {
			p.args = p.args[:n] // drop what the failed translation bound
			out.whereExact = false
			continue
		}
		where = append(where, s)
	}
	var q strings.Builder
	q.WriteString("SELECT " + rowExpr + " FROM " + t.name + " WHERE NOT residual")
	for _, w := range where {
		q.WriteString(" AND " + w)
	}
	orderSQL, orderOK := p.order(sel.OrderBy)
	if orderOK {
		q.WriteString(" ORDER BY " + orderSQL)
	}
	out.exact = out.whereExact && orderOK
	if out.exact && sel.HasLimit() {
		q.WriteString(" LIMIT " + p.arg(sel.Limit))
		out.limitArg = len(p.args) - 1
	}
	// One statement, so one snapshot, returns both row sets; ARRAY(…)
	// keeps the order of its subquery.
	out.sql = "SELECT ARRAY(" + q.String() + "), ARRAY(SELECT " + rowExpr + " FROM " + t.name + " WHERE residual)"
	out.args = p.args
	out.missing = p.missing
	return out
}

// rowExpr is what a fetch selects of a row: its id, length-prefixed (int4,
// big-endian), then its state, in one bytea (see splitRow), so that a state
// that does not decode can be reported by its id.
const rowExpr = "int4send(octet_length(id)) || id || state"

const sqlNull = "NULL::boolean"

// maxParams bounds the parameters one statement binds; a conjunct that would
// need more (a huge IN list) is left to the residual filter.
const maxParams = 30000

// expr translates a predicate to a SQL boolean that is TRUE, FALSE or NULL
// exactly when AnkQL's is true, false or unknown; ok is false when that
// cannot be done.
func (p *planner) expr(e query.Expr) (string, bool) {
	switch e := e.(type) {
	case nil:
		return "TRUE", true
	case *query.Literal:
		if e.Value {
			return "TRUE", true
		}
		return "FALSE", true
	case *query.And:
		return p.terms(e.Terms, " AND ")
	case *query.Or:
		return p.terms(e.Terms, " OR ")
	case *query.Not:
		s, ok := p.expr(e.X)
		return "(NOT " + s + ")", ok
	case *query.Comparison:
		return p.compare(e.Path, e.Op, e.Value.Value)
	case *query.In:
		parts := make([]string, len(e.Values))
		for i, o := range e.Values {
			s, ok := p.compare(e.Path, query.Eq, o.Value)
			if !ok {
				return "", false
			}
			parts[i] = s
		}
		s := "(" + strings.Join(parts, " OR ") + ")"
		if e.Not {
			s = "(NOT " + s + ")"
		}
		return s, true
	case *query.IsNull:
		s, ok := p.isNull(e.Path)
		if e.Not {
			s = "(NOT " + s + ")"
		}
		return s, ok
	}
	return "", false
}

func (p *planner) terms(terms []query.Expr, sep string) (string, bool) {
	parts := make([]string, len(terms))
	for i, t := range terms {
		s, ok := p.expr(t)
		if !ok {
			return "", false
		}
		parts[i] = s
	}
	return "(" + strings.Join(parts, sep) + ")", true
}

var sqlOp = [...]string{query.Eq: "=", query.Ne: "<>", query.Lt: "<", query.Le: "<=", query.Gt: ">", query.Ge: ">="}

// compare translates `path op v`.
func (p *planner) compare(path query.Path, op query.Op, v value.Value) (string, bool) {
	if pc := p.paths[path.Property()]; pc != nil && len(path) == 1 {
		return p.at(pc, func() (string, bool) { return p.compare(pc.rest, op, v) })
	}
	if v.IsNull() {
		return sqlNull, true
	}
	if op == query.Like {
		s, isString := v.AsString()
		switch {
		case !isString:
			return sqlNull, true
		case !textSafe(s):
			return "", false
		}
	}
	if len(path) > 1 {
		return p.comparePath(path, op, v)
	}
	k := kindOf(v)
	if k == kString {
		if s, _ := v.AsString(); !textSafe(s) {
			return "", false
		}
	}
	col := p.col(path.Property(), k)
	if col == "" {
		return sqlNull, true
	}
	if op == query.Like {
		return "(" + col + " LIKE " + p.arg(v.Raw()) + " ESCAPE '')", true
	}
	return "(" + col + " " + sqlOp[op] + " " + p.param(v) + ")", true
}

// param passes a value as a parameter of its column's type.
func (p *planner) param(v value.Value) string {
	switch kindOf(v) {
	case kBool:
		b, _ := v.AsBool()
		return p.arg(b)
	case kNum:
		return p.arg(numText(v)) + "::numeric"
	case kBytes, kRef:
		return p.arg([]byte(v.Raw())) + "::bytea"
	}
	return p.arg(pgtype.Text{String: v.Raw(), Valid: true}) + "::text"
}

// jsonPath returns the jsonb expression of a JSON path, or ok false when
// PostgreSQL could read the path differently from value.Path: an array
// step written as strtol reads it but not as a plain index ("-1", "01", "+1").
func (p *planner) jsonPath(path query.Path) (expr string, ok bool) {
	for _, step := range path.JSON() {
		if !textSafe(step) || (looksNumeric(step) && !plainIndex(step)) {
			return "", false
		}
	}
	col := p.col(path.Property(), kJSON)
	if col == "" {
		return "", true
	}
	return "(" + col + " #> " + p.arg(path.JSON()) + "::text[])", true
}

func looksNumeric(s string) bool {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	s = strings.TrimLeft(s, "+-")
	return s != "" && s[0] >= '0' && s[0] <= '9'
}

func plainIndex(s string) bool {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// comparePath translates a comparison on a JSON path: the value at the path
// is compared only when its JSON type is the operand's kind (JSON null and
// a path leading nowhere are NULL, so unknown).
func (p *planner) comparePath(path query.Path, op query.Op, v value.Value) (string, bool) {
	e, ok := p.jsonPath(path)
	if !ok {
		return "", false
	}
	var typ, val string
	switch v.Kind() {
	case value.KindString:
		if s, _ := v.AsString(); !textSafe(s) {
			return "", false
		}
		typ, val = "string", "("+e+" #>> '{}') COLLATE \"C\""
	case value.KindInt, value.KindFloat:
		typ, val = "number", "("+e+")::numeric"
	case value.KindBool:
		typ, val = "boolean", "("+e+")::boolean"
	case value.KindBytes, value.KindRef:
		return sqlNull, true // JSON holds neither
	default:
		return "", false // objects and arrays compare by canonical text, which jsonb does not keep
	}
	if e == "" {
		return sqlNull, true
	}
	var cmp string
	if op == query.Like {
		cmp = val + " LIKE " + p.arg(v.Raw()) + " ESCAPE ''"
	} else {
		cmp = val + " " + sqlOp[op] + " " + p.param(v)
	}
	return "(CASE WHEN jsonb_typeof(" + e + ") = '" + typ + "' THEN " + cmp + " END)", true
}

// isNull translates `path IS NULL` (never unknown).
func (p *planner) isNull(path query.Path) (string, bool) {
	if pc := p.paths[path.Property()]; pc != nil && len(path) == 1 {
		return p.at(pc, func() (string, bool) { return p.isNull(pc.rest) })
	}
	if len(path) > 1 {
		e, ok := p.jsonPath(path)
		if !ok {
			return "", false
		}
		if e == "" {
			return "TRUE", true
		}
		return "(" + e + " IS NULL OR jsonb_typeof(" + e + ") = 'null')", true
	}
	var parts []string
	for _, k := range orderKinds {
		if c := p.col(path.Property(), k); c != "" {
			parts = append(parts, c+" IS NULL")
		}
	}
	if len(parts) == 0 {
		return "TRUE", true
	}
	return "(" + strings.Join(parts, " AND ") + ")", true
}

// order translates ORDER BY into the total order of values: a rank of the
// kind columns (NULL < bool < number < string < bytes < json < ref), then
// the columns themselves, DESC reversing both, ties by id. ok is false for
// JSON paths, whose objects order by canonical text jsonb does not keep.
func (p *planner) order(order []query.Order) (string, bool) {
	var parts []string
	for _, o := range order {
		if len(o.Path) > 1 {
			return "", false
		}
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		var cols []string
		var ranks []string
		for i, k := range orderKinds {
			if c := p.col(o.Path.Property(), k); c != "" {
				cols = append(cols, c)
				ranks = append(ranks, "WHEN "+c+" IS NOT NULL THEN "+strconv.Itoa(i+1))
			}
		}
		switch len(cols) {
		case 0:
		case 1:
			nulls := " NULLS FIRST"
			if o.Desc {
				nulls = " NULLS LAST"
			}
			parts = append(parts, cols[0]+dir+nulls)
		default:
			parts = append(parts, "(CASE "+strings.Join(ranks, " ")+" ELSE 0 END)"+dir)
			for _, c := range cols {
				parts = append(parts, c+dir)
			}
		}
	}
	parts = append(parts, p.qual("id")+" ASC")
	return strings.Join(parts, ", "), true
}
