package query

import (
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// RefArguments returns b with the string operands that stand for entity
// ids made refs where they are compared with a declared reference property
// of collection: in `artist = ?`, `artist != ?` and `artist [NOT] IN (…)`,
// with artist declared to refer to another collection (rels), a string that
// is an entity id's text (id.EntityID.String) becomes value.Ref of that id;
// so does one compared with a reference property reached through declared
// references (`artist.label = ?`).
// Callers that hold ids only as text — JavaScript, the command line — can
// then compare reference properties with them; a ref never equals a
// string, so without this such a comparison matches nothing. Strings that
// are not entity ids, other properties and other operators are left as
// they are. b is not modified; when nothing changes it is returned itself.
func RefArguments(b *Bound, collection string, rels Relations) *Bound {
	if b == nil || rels == nil || b.Where == nil {
		return b
	}
	where, changed := refArgs(b.Where, collection, rels)
	if !changed {
		return b
	}
	out := *b
	out.Where = where
	return &out
}

func refArgs(e Expr, coll string, rels Relations) (Expr, bool) {
	switch e := e.(type) {
	case *And:
		terms, ok := refArgsTerms(e.Terms, coll, rels)
		if !ok {
			return e, false
		}
		return &And{Terms: terms}, true
	case *Or:
		terms, ok := refArgsTerms(e.Terms, coll, rels)
		if !ok {
			return e, false
		}
		return &Or{Terms: terms}, true
	case *Not:
		x, ok := refArgs(e.X, coll, rels)
		if !ok {
			return e, false
		}
		return &Not{X: x}, true
	case *Comparison:
		if (e.Op != Eq && e.Op != Ne) || !isRefProperty(e.Path, coll, rels) {
			return e, false
		}
		if v, ok := asRef(e.Value); ok {
			return &Comparison{Path: e.Path, Op: e.Op, Value: v}, true
		}
	case *In:
		if !isRefProperty(e.Path, coll, rels) {
			return e, false
		}
		var vals []Operand
		for i, o := range e.Values {
			if v, ok := asRef(o); ok {
				if vals == nil {
					vals = append(make([]Operand, 0, len(e.Values)), e.Values[:i]...)
				}
				vals = append(vals, v)
			} else if vals != nil {
				vals = append(vals, o)
			}
		}
		if vals != nil {
			return &In{Path: e.Path, Not: e.Not, Values: vals}, true
		}
	}
	return e, false
}

func refArgsTerms(terms []Expr, coll string, rels Relations) ([]Expr, bool) {
	var out []Expr
	for i, t := range terms {
		x, ok := refArgs(t, coll, rels)
		if ok && out == nil {
			out = append(make([]Expr, 0, len(terms)), terms[:i]...)
		}
		if out != nil {
			out = append(out, x)
		}
	}
	return out, out != nil
}

// isRefProperty reports whether p names a declared reference property:
// of coll, or, after steps that follow declared references, of the
// collection they lead to (`artist.label` on albums).
func isRefProperty(p Path, coll string, rels Relations) bool {
	if len(p) == 0 {
		return false
	}
	for _, step := range p[:len(p)-1] {
		target, ok := rels.Target(coll, step)
		if !ok {
			return false
		}
		coll = target
	}
	_, ok := rels.Target(coll, p[len(p)-1])
	return ok
}

// asRef is o as a ref when it is a string holding an entity id's text.
func asRef(o Operand) (Operand, bool) {
	s, ok := o.Value.AsString()
	if !ok || o.Placeholder >= 0 {
		return o, false
	}
	eid, err := id.ParseEntityID(s)
	if err != nil {
		return o, false
	}
	return Lit(value.Ref(eid)), true
}
