//go:build !js

package query

import (
	"math"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// gen builds a predicate and a row from fuzz bytes.
type gen struct {
	data []byte
	i    int
}

func (g *gen) next(n int) int {
	if g.i >= len(g.data) {
		return 0
	}
	g.i++
	return int(g.data[g.i-1]) % n
}

var genPaths = []Path{{"a"}, {"b"}, {"m"}, {"m", "x"}, {"m", "y", "z"}, {"m", "0"}, {"missing"}}

var genValues = []value.Value{
	value.Null, value.Bool(false), value.Bool(true),
	value.Int(0), value.Int(1), value.Int(-1), value.Int(9007199254740993), value.Int(math.MaxInt64), value.Int(math.MinInt64),
	value.Float(0), value.Float(1), value.Float(0.5), value.Float(9007199254740992), value.Float(math.Inf(1)), value.Float(math.Inf(-1)), value.Float(9.3e18),
	value.String(""), value.String("a"), value.String("ab"), value.String("1"), value.String("日本"), value.String("\xff"), value.String("a%"),
	value.Bytes(nil), value.Bytes([]byte("a")), value.Bytes([]byte{0xff}),
	value.MustJSON(`{"x": 1, "y": {"z": "ab"}}`), value.MustJSON(`{"x": "1", "y": null}`), value.MustJSON(`[true, 2]`),
	value.MustJSON(`{"x": 1.0, "y": {"z": 9007199254740993}}`), value.MustJSON(`{"x": [1], "y": {"z": ["ab"]}}`), value.MustJSON(`"a"`), value.MustJSON(`1`),
	value.Ref(id.EntityID{}), value.Ref(id.EntityID{1}),
}

var genPatterns = []string{"", "%", "_", "a%", "%b", "a_", "_b", "%a%", "日%", "__", "\xff", "a"}

func (g *gen) value() value.Value { return genValues[g.next(len(genValues))] }

func (g *gen) expr(depth int) Expr {
	k := g.next(8)
	if depth >= 4 && k < 3 {
		k += 3
	}
	switch k {
	case 0, 1:
		terms := make([]Expr, 2+g.next(2))
		for i := range terms {
			terms[i] = g.expr(depth + 1)
		}
		if k == 0 {
			return &And{Terms: terms}
		}
		return &Or{Terms: terms}
	case 2:
		return &Not{X: g.expr(depth + 1)}
	case 3:
		return &Literal{Value: g.next(2) == 1}
	case 4:
		p := genPaths[g.next(len(genPaths))]
		if g.next(4) == 0 {
			v := value.String(genPatterns[g.next(len(genPatterns))])
			if g.next(8) == 0 {
				v = g.value()
			}
			return &Comparison{Path: p, Op: Like, Value: Lit(v)}
		}
		return &Comparison{Path: p, Op: Op(g.next(int(Like))), Value: Lit(g.value())}
	case 5, 6:
		in := &In{Path: genPaths[g.next(len(genPaths))], Not: g.next(2) == 1}
		for range 1 + g.next(3) {
			in.Values = append(in.Values, Lit(g.value()))
		}
		return in
	}
	return &IsNull{Path: genPaths[g.next(len(genPaths))], Not: g.next(2) == 1}
}

// literalsOnly reports whether every operand of e has a literal form (no
// bytes, json or ref).
func literalsOnly(e Expr) bool {
	ok := func(o Operand) bool {
		switch o.Value.Kind() {
		case value.KindBytes, value.KindJSON, value.KindRef:
			return false
		}
		return true
	}
	switch e := e.(type) {
	case *And:
		for _, t := range e.Terms {
			if !literalsOnly(t) {
				return false
			}
		}
	case *Or:
		for _, t := range e.Terms {
			if !literalsOnly(t) {
				return false
			}
		}
	case *Not:
		return literalsOnly(e.X)
	case *Comparison:
		return ok(e.Value)
	case *In:
		for _, o := range e.Values {
			if !ok(o) {
				return false
			}
		}
	}
	return true
}

func FuzzDifferential(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{4, 0, 3, 10, 3, 5, 9})
	f.Add([]byte{0, 2, 4, 6, 1, 5, 0, 1, 2, 3, 4, 16, 2, 7, 26, 27})
	f.Add([]byte{1, 5, 3, 1, 2, 0, 6, 4, 0, 11, 2, 4, 4, 1, 3, 1, 12, 14, 20})
	f.Add([]byte{2, 4, 0, 0, 3, 17, 5, 1, 2, 7, 26, 9, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		where := g.expr(0)
		var m value.Fields
		for _, p := range []string{"a", "b", "m"} {
			if v := g.value(); !v.IsNull() || g.next(2) == 0 {
				m = m.With(p, v)
			}
		}
		b := &Bound{Where: where, Limit: -1}
		ci, err := CompileInterp(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := CompileCEL(b, nil)
		if err != nil {
			t.Fatalf("%s: CEL compile: %v", ExprString(where), err)
		}
		want, werr := ci.Match(m)
		got, gerr := cc.Match(m)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Fatalf("%s on %#v: CEL %v, %v; interpreter %v, %v", ExprString(where), m, got, gerr, want, werr)
		}
		// So does the portable form, compiled from its checked protobuf alone.
		form, err := PortableCEL(b, nil)
		if err != nil {
			t.Fatalf("%s: portable CEL: %v", ExprString(where), err)
		}
		pp, err := form.Program()
		if err != nil {
			t.Fatalf("%s: portable CEL program: %v", ExprString(where), err)
		}
		if pgot, perr := pp.Match(m); pgot != want || (perr == nil) != (werr == nil) {
			t.Fatalf("%s on %#v: portable CEL %v, %v; interpreter %v, %v", ExprString(where), m, pgot, perr, want, werr)
		}
		// The printed predicate parses (flattened) to one that agrees too.
		if !literalsOnly(where) {
			return
		}
		sel, err := Parse(ExprString(where))
		if err != nil {
			t.Fatalf("%s does not parse: %v", ExprString(where), err)
		}
		rb, err := sel.Bind()
		if err != nil {
			t.Fatal(err)
		}
		cr, err := CompileInterp(rb, nil)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := cr.Match(m); again != want {
			t.Fatalf("%s re-parsed as %s matches %v, original %v", ExprString(where), sel, again, want)
		}
	})
}
