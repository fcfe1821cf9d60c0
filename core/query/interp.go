package query

import (
	"github.com/ankurah/ankurah-go/core/value"
)

// tri is a truth value of SQL's three-valued logic.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

func (t tri) not() tri {
	switch t {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUnknown
}

// compareTri applies a comparison operator (not LIKE): unknown when either
// side is NULL or the kinds cannot be compared (only int and float mix).
func compareTri(a Value, op Op, b Value) tri {
	if !value.Comparable(a, b) {
		return triUnknown
	}
	c := value.Compare(a, b)
	switch op {
	case Eq:
		return triOf(c == 0)
	case Ne:
		return triOf(c != 0)
	case Lt:
		return triOf(c < 0)
	case Le:
		return triOf(c <= 0)
	case Gt:
		return triOf(c > 0)
	case Ge:
		return triOf(c >= 0)
	}
	return triUnknown
}

// likeTri is LIKE: unknown unless both sides are strings.
func likeTri(a, pattern Value) tri {
	s, ok1 := a.AsString()
	p, ok2 := pattern.AsString()
	if !ok1 || !ok2 {
		return triUnknown
	}
	return triOf(likeMatch(s, p))
}

// inTri is `a IN (list)`: true if some element equals a, otherwise unknown if
// some comparison was unknown (a NULL, or a NULL or incomparable element),
// otherwise false.
func inTri(a Value, list []Value) tri {
	res := triFalse
	for _, v := range list {
		switch compareTri(a, Eq, v) {
		case triTrue:
			return triTrue
		case triUnknown:
			res = triUnknown
		}
	}
	return res
}

// Value is value.Value, shortened for this package's signatures.
type Value = value.Value

// interp is the AST interpreter: the predicate compiled to a tree of closures.
type interp struct {
	eval func(value.Fields) tri
}

// CompileInterp compiles b into an AST interpreter, the evaluator of the
// js/wasm build (it does not import cel-go). It agrees with CompileCEL on
// every input. Errors wrap ErrType (see Compile).
func CompileInterp(b *Bound, schema Schema) (Program, error) {
	if err := check(b.Where, schema); err != nil {
		return nil, err
	}
	return &interp{eval: interpExpr(b.Where)}, nil
}

// Match implements Program; the interpreter never fails.
func (p *interp) Match(values value.Fields) (bool, error) {
	return p.eval(values) == triTrue, nil
}

func interpExpr(e Expr) func(value.Fields) tri {
	switch e := e.(type) {
	case nil:
		return func(value.Fields) tri { return triTrue }
	case *And:
		terms := interpTerms(e.Terms)
		return func(m value.Fields) tri {
			res := triTrue
			for _, t := range terms {
				switch t(m) {
				case triFalse:
					return triFalse
				case triUnknown:
					res = triUnknown
				}
			}
			return res
		}
	case *Or:
		terms := interpTerms(e.Terms)
		return func(m value.Fields) tri {
			res := triFalse
			for _, t := range terms {
				switch t(m) {
				case triTrue:
					return triTrue
				case triUnknown:
					res = triUnknown
				}
			}
			return res
		}
	case *Not:
		x := interpExpr(e.X)
		return func(m value.Fields) tri { return x(m).not() }
	case *Literal:
		t := triOf(e.Value)
		return func(value.Fields) tri { return t }
	case *Comparison:
		path, op, lit := e.Path, e.Op, e.Value.Value
		if op == Like {
			return func(m value.Fields) tri { return likeTri(Resolve(m, path), lit) }
		}
		return func(m value.Fields) tri { return compareTri(Resolve(m, path), op, lit) }
	case *In:
		path, not := e.Path, e.Not
		list := make([]Value, len(e.Values))
		for i, o := range e.Values {
			list[i] = o.Value
		}
		return func(m value.Fields) tri {
			t := inTri(Resolve(m, path), list)
			if not {
				return t.not()
			}
			return t
		}
	case *IsNull:
		path, not := e.Path, e.Not
		return func(m value.Fields) tri { return triOf(Resolve(m, path).IsNull() != not) }
	}
	return func(value.Fields) tri { return triUnknown }
}

func interpTerms(terms []Expr) []func(value.Fields) tri {
	out := make([]func(value.Fields) tri, len(terms))
	for i, t := range terms {
		out[i] = interpExpr(t)
	}
	return out
}
