package query

import (
	"fmt"

	"github.com/ankurah/ankurah-go/core/value"
)

// Bind binds the selection's ? placeholders to args, in order, converting
// each with value.From. The number of args must equal the number of
// placeholders; otherwise, or when an argument has no Value form, the error
// wraps ErrBind. The selection is not modified and can be bound again.
func (s *Selection) Bind(args ...any) (*Bound, error) {
	if len(args) != s.Placeholders {
		return nil, fmt.Errorf("%w: the query has %d placeholders but %d arguments were given", ErrBind, s.Placeholders, len(args))
	}
	vals := make([]value.Value, len(args))
	for i, a := range args {
		v, err := value.From(a)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %d: %w", ErrBind, i+1, err)
		}
		vals[i] = v
	}
	where, err := bindExpr(s.Where, vals)
	if err != nil {
		return nil, err
	}
	return &Bound{Where: where, OrderBy: s.OrderBy, Limit: s.Limit}, nil
}

func bindOperand(o Operand, vals []value.Value) (Operand, error) {
	if o.Placeholder < 0 {
		return o, nil
	}
	if o.Placeholder >= len(vals) {
		return o, fmt.Errorf("%w: placeholder %d has no argument (%d given)", ErrBind, o.Placeholder+1, len(vals))
	}
	return Lit(vals[o.Placeholder]), nil
}

// bindExpr returns a copy of e with every placeholder replaced; subtrees
// without placeholders are shared.
func bindExpr(e Expr, vals []value.Value) (Expr, error) {
	switch e := e.(type) {
	case *And:
		terms, err := bindTerms(e.Terms, vals)
		return &And{Terms: terms}, err
	case *Or:
		terms, err := bindTerms(e.Terms, vals)
		return &Or{Terms: terms}, err
	case *Not:
		x, err := bindExpr(e.X, vals)
		return &Not{X: x}, err
	case *Comparison:
		v, err := bindOperand(e.Value, vals)
		return &Comparison{Path: e.Path, Op: e.Op, Value: v}, err
	case *In:
		out := &In{Path: e.Path, Not: e.Not, Values: make([]Operand, len(e.Values))}
		for i, o := range e.Values {
			v, err := bindOperand(o, vals)
			if err != nil {
				return nil, err
			}
			out.Values[i] = v
		}
		return out, nil
	}
	return e, nil
}

func bindTerms(terms []Expr, vals []value.Value) ([]Expr, error) {
	out := make([]Expr, len(terms))
	for i, t := range terms {
		b, err := bindExpr(t, vals)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
