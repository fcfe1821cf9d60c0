package query

import (
	"encoding/hex"
	"errors"
	"math"
	"strconv"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// Limits on what Parse accepts, so that no query can exhaust the stack or
// the evaluators' budgets.
const (
	// MaxQueryLength is the longest query text Parse accepts, in bytes.
	MaxQueryLength = 16 << 10
	// MaxDepth is the deepest nesting of parentheses and NOT that Parse accepts.
	MaxDepth = 64
)

// Parse parses an AnkQL selection:
//
//	predicate [ORDER BY path [ASC|DESC], …] [LIMIT n]
//
// Errors wrap ErrSyntax and name the 1-based byte position and the offending
// token. A literal on the left of a comparison is moved to the right
// (`5 < year` becomes `year > 5`); nested ANDs and ORs are flattened.
// `x = NULL` parses, and is always unknown (use `x IS NULL`).
func Parse(text string) (*Selection, error) {
	if len(text) > MaxQueryLength {
		return nil, syntaxErr(MaxQueryLength, "query longer than %d bytes", MaxQueryLength)
	}
	p := &parser{lex: lexer{src: text}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	sel, err := p.selection()
	if err != nil {
		return nil, err
	}
	return sel, nil
}

// ParseBound parses text and binds its placeholders to args.
func ParseBound(text string, args ...any) (*Bound, error) {
	sel, err := Parse(text)
	if err != nil {
		return nil, err
	}
	return sel.Bind(args...)
}

type parser struct {
	lex    lexer
	tok    token
	depth  int
	params int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) unexpected(expected string) error {
	return syntaxErr(p.tok.pos, "unexpected %s, expected %s", p.tok.describe(), expected)
}

func (p *parser) isKeyword(kw string) bool { return p.tok.kind == tKeyword && p.tok.text == kw }

func (p *parser) expectKeyword(kw string) error {
	if !p.isKeyword(kw) {
		return p.unexpected(kw)
	}
	return p.advance()
}

func (p *parser) selection() (*Selection, error) {
	where, err := p.or()
	if err != nil {
		return nil, err
	}
	sel := &Selection{Where: where, Limit: -1}
	if p.isKeyword("ORDER") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			path, err := p.path("a path to order by")
			if err != nil {
				return nil, err
			}
			o := Order{Path: path}
			if p.isKeyword("ASC") || p.isKeyword("DESC") {
				o.Desc = p.tok.text == "DESC"
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			sel.OrderBy = append(sel.OrderBy, o)
			if p.tok.kind != tComma {
				break
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	if p.isKeyword("LIMIT") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(p.tok.text, 10, 64)
		if p.tok.kind != tInt || err != nil || n < 0 {
			return nil, p.unexpected("a non-negative integer after LIMIT")
		}
		sel.Limit = n
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.tok.kind != tEOF {
		switch {
		case sel.Limit >= 0:
			return nil, p.unexpected("end of query")
		case sel.OrderBy != nil:
			return nil, p.unexpected("ASC, DESC, \",\", LIMIT or end of query")
		default:
			return nil, p.unexpected("AND, OR, ORDER BY, LIMIT or end of query")
		}
	}
	sel.Placeholders = p.params
	return sel, nil
}

func (p *parser) or() (Expr, error) {
	var terms []Expr
	for {
		t, err := p.and()
		if err != nil {
			return nil, err
		}
		if o, ok := t.(*Or); ok {
			terms = append(terms, o.Terms...)
		} else {
			terms = append(terms, t)
		}
		if !p.isKeyword("OR") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &Or{Terms: terms}, nil
}

func (p *parser) and() (Expr, error) {
	var terms []Expr
	for {
		t, err := p.not()
		if err != nil {
			return nil, err
		}
		if a, ok := t.(*And); ok {
			terms = append(terms, a.Terms...)
		} else {
			terms = append(terms, t)
		}
		if !p.isKeyword("AND") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &And{Terms: terms}, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return syntaxErr(p.tok.pos, "query nested deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) not() (Expr, error) {
	if !p.isKeyword("NOT") {
		return p.primary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	return &Not{X: x}, nil
}

const expectPredicate = "a path, a literal, NOT, true, false or \"(\""

func (p *parser) primary() (Expr, error) {
	switch p.tok.kind {
	case tLParen:
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.unexpected("AND, OR or \")\"")
		}
		return e, p.advance()
	case tIdent, tQIdent:
		path, err := p.path("")
		if err != nil {
			return nil, err
		}
		return p.predicate(path)
	case tKeyword:
		if p.tok.text == "TRUE" || p.tok.text == "FALSE" {
			b := p.tok.text == "TRUE"
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tOp {
				return &Literal{Value: b}, nil
			}
			return p.reversed(Lit(value.Bool(b)))
		}
		if p.tok.text == "NULL" {
			break
		}
		return nil, p.unexpected(expectPredicate)
	case tString, tInt, tFloat, tParam, tTyped:
	default:
		return nil, p.unexpected(expectPredicate)
	}
	// A literal on the left: `5 < year` is `year > 5`.
	lit, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tOp {
		return nil, p.unexpected("a comparison operator (= != <> < <= > >=)")
	}
	return p.reversed(lit)
}

// flipped maps `lit op path` to `path flipped[op] lit`.
var flipped = map[Op]Op{Eq: Eq, Ne: Ne, Lt: Gt, Le: Ge, Gt: Lt, Ge: Le}

// reversed parses `op path` after a literal and returns the normalized comparison.
func (p *parser) reversed(lit Operand) (Expr, error) {
	op := opOf(p.tok.text)
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tIdent, tQIdent:
	case tString, tInt, tFloat, tParam, tTyped:
		return nil, syntaxErr(p.tok.pos, "unexpected %s: comparing two literals is not supported, one side must be a path", p.tok.describe())
	case tKeyword:
		if t := p.tok.text; t == "NULL" || t == "TRUE" || t == "FALSE" {
			return nil, syntaxErr(p.tok.pos, "unexpected %s: comparing two literals is not supported, one side must be a path", p.tok.describe())
		}
		return nil, p.unexpected("a path")
	default:
		return nil, p.unexpected("a path")
	}
	path, err := p.path("")
	if err != nil {
		return nil, err
	}
	return &Comparison{Path: path, Op: flipped[op], Value: lit}, nil
}

func opOf(s string) Op {
	switch s {
	case "=":
		return Eq
	case "!=", "<>":
		return Ne
	case "<":
		return Lt
	case "<=":
		return Le
	case ">":
		return Gt
	}
	return Ge
}

// predicate parses what follows a path.
func (p *parser) predicate(path Path) (Expr, error) {
	switch {
	case p.tok.kind == tOp:
		op := opOf(p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		v, err := p.rightOperand()
		if err != nil {
			return nil, err
		}
		return &Comparison{Path: path, Op: op, Value: v}, nil
	case p.isKeyword("LIKE"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		v, err := p.rightOperand()
		if err != nil {
			return nil, err
		}
		return &Comparison{Path: path, Op: Like, Value: v}, nil
	case p.isKeyword("IS"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		not := p.isKeyword("NOT")
		if not {
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if err := p.expectKeyword("NULL"); err != nil {
			return nil, err
		}
		return &IsNull{Path: path, Not: not}, nil
	case p.isKeyword("NOT") || p.isKeyword("IN"):
		not := p.isKeyword("NOT")
		if not {
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if err := p.expectKeyword("IN"); err != nil {
			return nil, err
		}
		if p.tok.kind != tLParen {
			return nil, p.unexpected("\"(\"")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		in := &In{Path: path, Not: not}
		for {
			if p.tok.kind == tRParen && len(in.Values) == 0 {
				return nil, syntaxErr(p.tok.pos, "unexpected \")\": IN needs at least one value")
			}
			v, err := p.rightOperand()
			if err != nil {
				return nil, err
			}
			in.Values = append(in.Values, v)
			if p.tok.kind == tRParen {
				break
			}
			if p.tok.kind != tComma {
				return nil, p.unexpected("\",\" or \")\"")
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		return in, p.advance()
	}
	return nil, p.unexpected("a comparison operator, LIKE, IN, NOT IN or IS")
}

// rightOperand parses the literal or placeholder on the right of a path.
func (p *parser) rightOperand() (Operand, error) {
	if p.tok.kind == tIdent || p.tok.kind == tQIdent {
		return Operand{}, syntaxErr(p.tok.pos, "unexpected %s: comparing two paths is not supported, one side must be a literal or ?", p.tok.describe())
	}
	return p.operand()
}

const expectLiteral = "a literal or ?"

// operand parses a literal or a ? placeholder.
func (p *parser) operand() (Operand, error) {
	t := p.tok
	var v value.Value
	switch t.kind {
	case tParam:
		o := Operand{Placeholder: p.params}
		p.params++
		return o, p.advance()
	case tString:
		v = value.String(t.text)
	case tTyped:
		var err error
		if v, err = typedLiteral(t); err != nil {
			return Operand{}, err
		}
	case tInt:
		i, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return Operand{}, syntaxErr(t.pos, "integer %s out of range", t.describe())
		}
		v = value.Int(i)
	case tFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil && !math.IsInf(f, 0) {
			return Operand{}, syntaxErr(t.pos, "invalid number %s", t.describe())
		}
		// Out-of-range decimals read as ±Inf, which is how String prints them back.
		v = value.Float(f)
	case tKeyword:
		switch t.text {
		case "NULL":
			v = value.Null
		case "TRUE":
			v = value.Bool(true)
		case "FALSE":
			v = value.Bool(false)
		default:
			return Operand{}, p.unexpected(expectLiteral)
		}
	default:
		return Operand{}, p.unexpected(expectLiteral)
	}
	return Lit(v), p.advance()
}

// typedLiteral is the value of x'<hex>' (bytes), json'<text>' (a JSON
// value, kept canonical) or ref'<id>' (an entity id), as Bound.String prints
// them.
func typedLiteral(t token) (value.Value, error) {
	switch t.prefix {
	case "x":
		b, err := hex.DecodeString(t.text)
		var bad hex.InvalidByteError
		switch {
		case errors.As(err, &bad):
			return value.Value{}, syntaxErr(t.pos, "invalid bytes literal %s: %q is not a hex digit", t.describe(), rune(bad))
		case err != nil:
			return value.Value{}, syntaxErr(t.pos, "invalid bytes literal %s: want an even number of hex digits", t.describe())
		}
		return value.Bytes(b), nil
	case "json":
		v, err := value.JSON([]byte(t.text))
		if err != nil {
			return value.Value{}, syntaxErr(t.pos, "invalid json literal %s: %v", t.describe(), err)
		}
		return v, nil
	default: // ref
		e, err := id.ParseEntityID(t.text)
		if err != nil {
			return value.Value{}, syntaxErr(t.pos, "invalid ref literal %s: %v", t.describe(), err)
		}
		return value.Ref(e), nil
	}
}

// path parses ident(.ident)*; each element bare or double-quoted.
func (p *parser) path(what string) (Path, error) {
	if what == "" {
		what = "a path"
	}
	var path Path
	for {
		if p.tok.kind != tIdent && p.tok.kind != tQIdent {
			if len(path) > 0 {
				return nil, p.unexpected("a name after \".\" (quote names that are not identifiers: \"0\")")
			}
			return nil, p.unexpected(what)
		}
		path = append(path, p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tDot {
			return path, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}
