//go:build !js

package query

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/ankurah/ankurah-go/core/value"
)

// How AnkQL runs on CEL.
//
// A predicate becomes a CEL expression over two list(dyn) variables: v holds
// the values of the paths the predicate reads (each path resolved once per
// entity, with Resolve) and a holds its operands (an IN list is one element,
// itself a list). No value is spliced into CEL source, so the source depends
// only on the shape of the predicate: `year > ?` and `name > 'x'` compile to
// the same cached program.
//
// SQL's three-valued logic is encoded with CEL's own two-valued operators:
// every AnkQL term t is translated into two CEL booleans, T(t) ("t is true")
// and F(t) ("t is false"); unknown is neither. T(a AND b) = T(a) && T(b),
// F(a AND b) = F(a) || F(b), T(NOT a) = F(a), and so on; the program
// evaluates T of the whole predicate. Comparisons go through one function,
// ankql.cmp(x, y), which is -1, 0 or 1 when AnkQL can compare x and y and 2
// (unknown) when either is NULL or the kinds do not mix, so that
// T(x < y) = ankql.cmp(x, y) == -1 and F(x < y) = ankql.cmp(x, y) in [0, 1].
// Int and double compare exactly (CEL's own cross-type comparison rounds
// the int to a double).

// celCostLimit bounds the work of one Match. Parse's limits keep every
// predicate far below it; it guards against a future bug, not a user.
const celCostLimit = 10_000_000

// celCacheSize bounds the program cache; when full it is emptied.
const celCacheSize = 1024

// The opaque CEL types of the AnkQL kinds CEL has no type for.
var (
	celJSONType = types.NewOpaqueType("ankql.json")
	celRefType  = types.NewOpaqueType("ankql.ref")
)

// celText is a json or ref value inside CEL: it compares only with its own kind.
type celText struct {
	kind value.Kind
	s    string
}

func (t celText) ConvertToNative(typ reflect.Type) (any, error) {
	return nil, fmt.Errorf("ankql: %s has no native form %v", t.kind, typ)
}

func (t celText) ConvertToType(typ ref.Type) ref.Val {
	if typ == types.TypeType {
		return t.Type().(ref.Val)
	}
	return types.NewErr("ankql: no conversion from %s to %s", t.kind, typ.TypeName())
}

func (t celText) Equal(other ref.Val) ref.Val {
	o, ok := other.(celText)
	return types.Bool(ok && o.kind == t.kind && o.s == t.s)
}

func (t celText) Type() ref.Type {
	if t.kind == value.KindJSON {
		return celJSONType
	}
	return celRefType
}

func (t celText) Value() any { return t.s }

// toCEL converts a value into its CEL form.
func toCEL(v value.Value) ref.Val {
	switch v.Kind() {
	case value.KindBool:
		b, _ := v.AsBool()
		return types.Bool(b)
	case value.KindInt:
		i, _ := v.AsInt()
		return types.Int(i)
	case value.KindFloat:
		f, _ := v.AsFloat()
		return types.Double(f)
	case value.KindString:
		return types.String(v.Raw())
	case value.KindBytes:
		return types.Bytes(v.Raw())
	case value.KindJSON, value.KindRef:
		return celText{kind: v.Kind(), s: v.Raw()}
	}
	return types.NullValue
}

var celUnknown = types.Int(2)

func sign(c int) ref.Val {
	switch {
	case c < 0:
		return types.IntNegOne
	case c > 0:
		return types.IntOne
	}
	return types.IntZero
}

// celCompare is ankql.cmp: AnkQL's order within a comparable pair, else 2.
func celCompare(x, y ref.Val) ref.Val {
	switch x := x.(type) {
	case types.Int:
		switch y := y.(type) {
		case types.Int:
			return sign(cmpOrdered(x, y))
		case types.Double:
			return sign(value.CompareIntFloat(int64(x), float64(y)))
		}
	case types.Double:
		switch y := y.(type) {
		case types.Int:
			return sign(-value.CompareIntFloat(int64(y), float64(x)))
		case types.Double:
			return sign(cmpOrdered(x, y))
		}
	case types.String:
		if y, ok := y.(types.String); ok {
			return sign(strings.Compare(string(x), string(y)))
		}
	case types.Bytes:
		if y, ok := y.(types.Bytes); ok {
			return sign(bytes.Compare(x, y))
		}
	case types.Bool:
		if y, ok := y.(types.Bool); ok {
			return sign(cmpBool(bool(x), bool(y)))
		}
	case celText:
		if y, ok := y.(celText); ok && y.kind == x.kind {
			return sign(strings.Compare(x.s, y.s))
		}
	}
	return celUnknown
}

func cmpOrdered[T int64 | float64 | types.Int | types.Double](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// celEnv is the one environment every AnkQL program is compiled in.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("v", cel.ListType(cel.DynType)),
		cel.Variable("a", cel.ListType(cel.DynType)),
		cel.Function("ankql.cmp",
			cel.Overload("ankql_cmp_dyn_dyn", []*cel.Type{cel.DynType, cel.DynType}, cel.IntType,
				cel.BinaryBinding(celCompare))),
		cel.Function("ankql.like",
			cel.Overload("ankql_like_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(s, p ref.Val) ref.Val {
					return types.Bool(likeMatch(string(s.(types.String)), string(p.(types.String))))
				}))),
		// Generated sources are long for long queries; Parse's limits bound them.
		cel.ParserExpressionSizeLimit(1<<22),
		cel.ParserRecursionLimit(8*MaxDepth+64),
		cel.ExpressionNodeLimit(1<<20),
	)
})

// celCache holds compiled programs by CEL source.
var celCache = struct {
	sync.Mutex
	m map[string]cel.Program
}{m: map[string]cel.Program{}}

// celProgram is a compiled AnkQL predicate on CEL.
type celProgram struct {
	prg   cel.Program
	paths []Path
	args  ref.Val   // the operands, as the CEL list a
	evals sync.Pool // of *celEval, so that Match allocates only what CEL does
}

// celEval is the per-Match state: the resolved path values and the
// activation that serves them as the CEL list v.
type celEval struct {
	vals []ref.Val
	act  celActivation
}

// CompileCEL compiles b into a type-checked CEL program with a cost limit,
// the evaluator of native builds. It agrees with CompileInterp on every
// input. Programs are cached by the shape of the predicate, so compiling the
// same query again with other arguments costs no CEL compilation. Errors wrap
// ErrType (see Compile) or ErrEval.
func CompileCEL(b *Bound, schema Schema) (Program, error) {
	return compileCEL(b, schema, celCostLimit)
}

func compileCEL(b *Bound, schema Schema, costLimit uint64) (Program, error) {
	if err := check(b.Where, schema); err != nil {
		return nil, err
	}
	g := &celGen{pathIndex: map[string]int{}}
	var src strings.Builder
	g.write(&src, b.Where, true)
	prg, err := celCompile(src.String(), costLimit)
	if err != nil {
		return nil, err
	}
	p := &celProgram{prg: prg, paths: g.paths, args: types.NewRefValList(types.DefaultTypeAdapter, g.args)}
	p.evals.New = func() any {
		e := &celEval{vals: make([]ref.Val, len(p.paths))}
		e.act = celActivation{v: types.NewRefValList(types.DefaultTypeAdapter, e.vals), a: p.args}
		return e
	}
	return p, nil
}

func celCompile(src string, costLimit uint64) (cel.Program, error) {
	key := src
	if costLimit != celCostLimit {
		key = fmt.Sprintf("%d\x00%s", costLimit, src)
	}
	celCache.Lock()
	prg, ok := celCache.m[key]
	celCache.Unlock()
	if ok {
		return prg, nil
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("%w: CEL environment: %w", ErrEval, err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%w: CEL compile: %w", ErrEval, iss.Err())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("%w: CEL program yields %s, not bool", ErrEval, ast.OutputType())
	}
	prg, err = env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("%w: CEL program: %w", ErrEval, err)
	}
	celCache.Lock()
	if len(celCache.m) >= celCacheSize {
		clear(celCache.m)
	}
	celCache.m[key] = prg
	celCache.Unlock()
	return prg, nil
}

// celActivation binds the variables v and a for one Match.
type celActivation struct {
	v, a ref.Val
}

func (c *celActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "v":
		return c.v, true
	case "a":
		return c.a, true
	}
	return nil, false
}

func (c *celActivation) Parent() interpreter.Activation { return nil }

// Match implements Program.
func (p *celProgram) Match(values value.Fields) (bool, error) {
	e := p.evals.Get().(*celEval)
	for i, path := range p.paths {
		e.vals[i] = toCEL(Resolve(values, path))
	}
	out, _, err := p.prg.Eval(&e.act)
	clear(e.vals) // do not keep the entity's values alive in the pool
	p.evals.Put(e)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrEval, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%w: CEL program yielded %v", ErrEval, out)
	}
	return bool(b), nil
}

// celGen writes the CEL source of a predicate, collecting paths and operands.
type celGen struct {
	pathIndex map[string]int
	paths     []Path
	args      []ref.Val
	raw       []CELArg // the operands as values, for the portable form (celform.go)
}

func (g *celGen) path(p Path) string {
	key := strings.Join(p, "\x00")
	i, ok := g.pathIndex[key]
	if !ok {
		i = len(g.paths)
		g.pathIndex[key] = i
		g.paths = append(g.paths, p)
	}
	return fmt.Sprintf("v[%d]", i)
}

func (g *celGen) arg(v ref.Val) string {
	g.args = append(g.args, v)
	return fmt.Sprintf("a[%d]", len(g.args)-1)
}

// cmpTrue is the set of ankql.cmp results for which `x op y` is true.
var cmpTrue = map[Op]string{
	Eq: " == 0", Ne: " in [-1, 1]", Lt: " == -1", Le: " in [-1, 0]", Gt: " == 1", Ge: " in [0, 1]",
}

// negated maps an operator to the one true exactly when it is false (for
// comparable values; both are unknown otherwise).
var negated = map[Op]Op{Eq: Ne, Ne: Eq, Lt: Ge, Ge: Lt, Le: Gt, Gt: Le}

// write writes T(e) when want is true, F(e) when it is false.
func (g *celGen) write(sb *strings.Builder, e Expr, want bool) {
	switch e := e.(type) {
	case nil:
		sb.WriteString(fmt.Sprint(want))
	case *Literal:
		sb.WriteString(fmt.Sprint(e.Value == want))
	case *Not:
		g.write(sb, e.X, !want)
	case *And: // T(a AND b) = T(a) && T(b); F(a AND b) = F(a) || F(b)
		g.join(sb, e.Terms, want, want)
	case *Or: // T(a OR b) = T(a) || T(b); F(a OR b) = F(a) && F(b)
		g.join(sb, e.Terms, want, !want)
	case *IsNull:
		if e.Not == want {
			fmt.Fprintf(sb, "%s != null", g.path(e.Path))
		} else {
			fmt.Fprintf(sb, "%s == null", g.path(e.Path))
		}
	case *Comparison:
		x, y := g.path(e.Path), g.arg(toCEL(e.Value.Value))
		g.raw = append(g.raw, CELArg{Value: e.Value.Value})
		if e.Op == Like {
			not := ""
			if !want {
				not = "!"
			}
			fmt.Fprintf(sb, "(type(%s) == string && type(%s) == string && %sankql.like(%s, %s))", x, y, not, x, y)
			return
		}
		op := e.Op
		if !want {
			op = negated[op]
		}
		fmt.Fprintf(sb, "ankql.cmp(%s, %s)%s", x, y, cmpTrue[op])
	case *In:
		list := make([]ref.Val, len(e.Values))
		for i, o := range e.Values {
			list[i] = toCEL(o.Value)
		}
		x, l := g.path(e.Path), g.arg(types.NewRefValList(types.DefaultTypeAdapter, list))
		raw := CELArg{IsList: true, List: make([]Value, len(e.Values))}
		for i, o := range e.Values {
			raw.List[i] = o.Value
		}
		g.raw = append(g.raw, raw)
		if want != e.Not {
			fmt.Fprintf(sb, "%s.exists(e, ankql.cmp(%s, e) == 0)", l, x)
		} else {
			fmt.Fprintf(sb, "%s.all(e, ankql.cmp(%s, e) in [-1, 1])", l, x)
		}
	default:
		sb.WriteString("false")
	}
}

// join writes the terms' T (want) or F (!want) joined by && (and) or ||.
func (g *celGen) join(sb *strings.Builder, terms []Expr, want, and bool) {
	op := " || "
	if and {
		op = " && "
	}
	sb.WriteByte('(')
	for i, t := range terms {
		if i > 0 {
			sb.WriteString(op)
		}
		g.write(sb, t, want)
	}
	sb.WriteByte(')')
}
