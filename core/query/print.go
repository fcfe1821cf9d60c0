package query

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"

	"github.com/ankurah/ankurah-go/core/value"
)

// String prints the selection as canonical AnkQL: keywords upper case, one
// space around operators, names quoted only where needed, placeholders as ?.
// Parse(s.String()) yields an identical selection.
func (s *Selection) String() string {
	return format(s.Where, s.OrderBy, s.Limit)
}

// String prints the bound selection as canonical AnkQL with every
// placeholder replaced by its value. NULL, bool, int, float and string
// values print as literals that parse back to the same value (a float too
// large for float64 prints as 1e999 or -1e999). Bytes, json and entity-ref
// values print as the typed literals x'<hex>', json'<canonical text>' and
// ref'<id>', which Parse reads back (so a bound selection sent to a server
// as text means the same there).
func (b *Bound) String() string {
	return format(b.Where, b.OrderBy, b.Limit)
}

// ExprString prints a predicate as canonical AnkQL.
func ExprString(e Expr) string {
	var sb strings.Builder
	writeExpr(&sb, e)
	return sb.String()
}

// String prints the path as AnkQL writes it (meta.producer."first name").
func (p Path) String() string {
	var sb strings.Builder
	writePath(&sb, p)
	return sb.String()
}

func format(where Expr, order []Order, limit int64) string {
	var sb strings.Builder
	writeExpr(&sb, where)
	for i, o := range order {
		if i == 0 {
			sb.WriteString(" ORDER BY ")
		} else {
			sb.WriteString(", ")
		}
		writePath(&sb, o.Path)
		if o.Desc {
			sb.WriteString(" DESC")
		}
	}
	if limit >= 0 {
		sb.WriteString(" LIMIT ")
		sb.WriteString(strconv.FormatInt(limit, 10))
	}
	return sb.String()
}

func writeExpr(sb *strings.Builder, e Expr) {
	switch e := e.(type) {
	case nil:
		sb.WriteString("true")
	case *And:
		for i, t := range e.Terms {
			if i > 0 {
				sb.WriteString(" AND ")
			}
			writeTerm(sb, t)
		}
	case *Or:
		for i, t := range e.Terms {
			if i > 0 {
				sb.WriteString(" OR ")
			}
			_, nested := t.(*Or)
			if nested {
				sb.WriteByte('(')
			}
			writeExpr(sb, t)
			if nested {
				sb.WriteByte(')')
			}
		}
	case *Not:
		sb.WriteString("NOT ")
		writeTerm(sb, e.X)
	case *Literal:
		if e.Value {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
	case *Comparison:
		writePath(sb, e.Path)
		sb.WriteByte(' ')
		sb.WriteString(e.Op.String())
		sb.WriteByte(' ')
		writeOperand(sb, e.Value)
	case *In:
		writePath(sb, e.Path)
		if e.Not {
			sb.WriteString(" NOT IN (")
		} else {
			sb.WriteString(" IN (")
		}
		for i, v := range e.Values {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeOperand(sb, v)
		}
		sb.WriteByte(')')
	case *IsNull:
		writePath(sb, e.Path)
		if e.Not {
			sb.WriteString(" IS NOT NULL")
		} else {
			sb.WriteString(" IS NULL")
		}
	}
}

// writeTerm writes an operand of AND or NOT, parenthesizing ANDs and ORs.
func writeTerm(sb *strings.Builder, e Expr) {
	switch e.(type) {
	case *And, *Or:
		sb.WriteByte('(')
		writeExpr(sb, e)
		sb.WriteByte(')')
		return
	}
	writeExpr(sb, e)
}

func writePath(sb *strings.Builder, p Path) {
	for i, name := range p {
		if i > 0 {
			sb.WriteByte('.')
		}
		if bareIdent(name) {
			sb.WriteString(name)
			continue
		}
		sb.WriteByte('"')
		sb.WriteString(strings.ReplaceAll(name, `"`, `""`))
		sb.WriteByte('"')
	}
}

func writeOperand(sb *strings.Builder, o Operand) {
	if o.Placeholder >= 0 {
		sb.WriteByte('?')
		return
	}
	sb.WriteString(literalText(o.Value))
}

// literalText renders a value as an AnkQL literal (see Bound.String for the
// kinds that have no literal syntax).
func literalText(v value.Value) string {
	switch v.Kind() {
	case value.KindFloat:
		f, _ := v.AsFloat()
		if math.IsInf(f, 1) {
			return "1e999"
		}
		if math.IsInf(f, -1) {
			return "-1e999"
		}
		return value.FormatFloat(f)
	case value.KindBytes:
		return "x'" + hex.EncodeToString([]byte(v.Raw())) + "'"
	case value.KindJSON:
		return "json'" + strings.ReplaceAll(v.Raw(), "'", "''") + "'"
	case value.KindRef:
		r, _ := v.AsRef()
		return "ref'" + r.String() + "'"
	}
	return v.Text()
}
