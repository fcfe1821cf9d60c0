package query

import (
	"fmt"

	"github.com/ankurah/ankurah-go/core/value"
)

// check rejects, for properties the schema declares, comparisons that can
// never be true: an operand of an incompatible kind (int and float are
// compatible, NULL is always accepted), LIKE on a non-string, or a JSON path
// into a property that is not json. It also rejects a placeholder left
// unbound (ErrBind), which only a hand-built Bound can hold.
func check(e Expr, schema Schema) error {
	switch e := e.(type) {
	case *And:
		return checkAll(e.Terms, schema)
	case *Or:
		return checkAll(e.Terms, schema)
	case *Not:
		return check(e.X, schema)
	case *Comparison:
		return checkOperands(e.Path, e.Op, []Operand{e.Value}, schema)
	case *In:
		return checkOperands(e.Path, Eq, e.Values, schema)
	}
	return nil
}

func checkAll(terms []Expr, schema Schema) error {
	for _, t := range terms {
		if err := check(t, schema); err != nil {
			return err
		}
	}
	return nil
}

func checkOperands(p Path, op Op, ops []Operand, schema Schema) error {
	for _, o := range ops {
		if o.Placeholder >= 0 {
			return fmt.Errorf("%w: placeholder %d of %s is not bound", ErrBind, o.Placeholder+1, p)
		}
	}
	k, ok := schema[p.Property()]
	if !ok || k == value.KindNull {
		return nil
	}
	if len(p) > 1 {
		if k == value.KindJSON {
			return nil // the kinds inside a JSON document are not declared
		}
		return fmt.Errorf("%w: %s reaches into property %q, which is %s, not json: it is always NULL", ErrType, p, p.Property(), k)
	}
	if op == Like && k != value.KindString {
		return fmt.Errorf("%w: %s is %s, but LIKE applies to string only", ErrType, p, k)
	}
	for _, o := range ops {
		lk := o.Value.Kind()
		if lk == value.KindNull {
			continue
		}
		if lk != k && !(lk.IsNumber() && k.IsNumber()) {
			return fmt.Errorf("%w: %s is %s, compared with %s %s", ErrType, p, k, lk, literalText(o.Value))
		}
	}
	return nil
}
