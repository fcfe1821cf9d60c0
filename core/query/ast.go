// Package query implements AnkQL, Ankurah's small SQL-like query language:
// the parser (text -> *Selection), binding of ? placeholders (-> *Bound),
// and compilation to a Program with two evaluators that agree on every input
// (CEL on native builds, an AST interpreter in the js/wasm build).
//
// Values are dynamically typed. int and float compare numerically (exactly,
// without rounding the int); any other comparison of two different kinds is
// unknown, so `meta.tracks = '12'` does not match 12. A missing property, a
// JSON path that leads nowhere and JSON null are all NULL. NULL follows SQL's
// three-valued logic: a comparison with NULL is unknown (`x = NULL` too: write
// `x IS NULL`), NOT unknown is unknown, `x IN (1, NULL)` is unknown when x is
// 2, `x NOT IN (…)` is unknown when x is NULL, and only true matches. bool
// compares only with bool (false < true), strings by their UTF-8 bytes, bytes
// by bytes, json by canonical text. LIKE applies to strings only: % matches
// any run of characters, _ one character, case-sensitively, with no escape
// character.
//
// Literals: 'strings' (a doubled quote stands for one), ints, floats, TRUE,
// FALSE, NULL, and the typed literals x'<hex>' (bytes), json'<JSON text>'
// and ref'<entity id>' (the prefix in any case, written right before the
// quote). A ? placeholder binds any value. A bound selection prints (Bound
// String) with every value as a literal that parses back to the same value,
// which is how a client sends it to its server.
package query

import (
	"errors"

	"github.com/ankurah/ankurah-go/core/value"
)

// Errors of this package, tested with errors.Is.
var (
	// ErrSyntax is wrapped by every parse error; the message names the
	// position (1-based byte offset) and the offending token.
	ErrSyntax = errors.New("query: syntax error")
	// ErrBind reports a placeholder/argument count mismatch or an argument
	// that has no Value form.
	ErrBind = errors.New("query: bind error")
	// ErrType reports a comparison a schema proves can never be true.
	ErrType = errors.New("query: type error")
	// ErrEval reports a failure while evaluating a program (cost limit, internal error).
	ErrEval = errors.New("query: evaluation error")
)

// Expr is a node of a predicate: *And, *Or, *Not, *Literal, *Comparison, *In, *IsNull.
type Expr interface{ expr() }

// Path names a property and, when longer than one element, a path into the
// JSON value of that property ("meta.producer.name").
type Path []string

// Property returns the property name the path starts at.
func (p Path) Property() string { return p[0] }

// JSON returns the part of the path inside the property's JSON value.
func (p Path) JSON() []string { return p[1:] }

// Operand is a literal value or a ? placeholder. After Bind every operand is a value.
type Operand struct {
	Value value.Value
	// Placeholder is the 0-based index of the ? it came from, or -1 for a literal.
	Placeholder int
}

// Lit returns a literal operand.
func Lit(v value.Value) Operand { return Operand{Value: v, Placeholder: -1} }

// Op is a comparison operator.
type Op int

// The comparison operators. `<>` parses as Ne.
const (
	Eq Op = iota
	Ne
	Lt
	Le
	Gt
	Ge
	Like
)

var opText = [...]string{"=", "!=", "<", "<=", ">", ">=", "LIKE"}

// String returns the operator as AnkQL writes it.
func (o Op) String() string { return opText[o] }

// And is a conjunction of two or more terms.
type And struct{ Terms []Expr }

// Or is a disjunction of two or more terms.
type Or struct{ Terms []Expr }

// Not negates its term (NOT unknown is unknown).
type Not struct{ X Expr }

// Literal is a bare true or false.
type Literal struct{ Value bool }

// Comparison is `path op operand`. A literal on the left is normalized to
// this form by the parser (`5 < year` becomes `year > 5`).
type Comparison struct {
	Path  Path
	Op    Op
	Value Operand
}

// In is `path [NOT] IN (v, …)`; the list is never empty.
type In struct {
	Path   Path
	Not    bool
	Values []Operand
}

// IsNull is `path IS [NOT] NULL`.
type IsNull struct {
	Path Path
	Not  bool
}

func (*And) expr()        {}
func (*Or) expr()         {}
func (*Not) expr()        {}
func (*Literal) expr()    {}
func (*Comparison) expr() {}
func (*In) expr()         {}
func (*IsNull) expr()     {}

// Order is one ORDER BY term.
type Order struct {
	Path Path
	Desc bool
}

// Selection is a parsed query: a predicate, an optional order and an
// optional limit (Limit < 0 means none). It may hold placeholders.
type Selection struct {
	Where        Expr
	OrderBy      []Order
	Limit        int64
	Placeholders int
}

// Bound is a selection whose placeholders are bound to values: what storage
// engines receive. Engines must not modify it.
type Bound struct {
	Where   Expr
	OrderBy []Order
	// Limit is the maximum number of results, or -1 for none.
	Limit int64
	// After, when set, continues a result past a cursor: only rows ORDER BY
	// sorts after it. The node applies it (docs/pagination.md); engines
	// never receive it.
	After *Cursor
}

// HasLimit reports whether the selection has a LIMIT.
func (b *Bound) HasLimit() bool { return b.Limit >= 0 }
