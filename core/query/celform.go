//go:build !js

package query

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/proto"
)

// CELForm is a bound predicate in its portable compiled form: the
// type-checked CEL expression the node itself evaluates, as the standard
// checked-expression protobuf (google.api.expr.v1alpha1.CheckedExpr), with
// the inputs it reads. A program in any language with a CEL implementation
// evaluates exactly what the node would:
//
//   - the expression reads two variables, v and a, both list(dyn): v[i] is
//     the value of Paths[i] in the entity (Resolve: a missing property or a
//     path through a non-object is null), a[j] is Args[j] (an IN list is one
//     argument, itself a list);
//   - values map to CEL as null, bool, int, double, string and bytes do;
//     json and entity-ref values are opaque types ankql.json and ankql.ref
//     holding their text, equal only to their own kind;
//   - it calls two functions: ankql.cmp(x, y) is -1, 0 or 1 when AnkQL
//     orders x before, with or after y (numbers compare exactly across int
//     and double; strings and bytes bytewise; false before true; json and
//     refs by text, each only with its own kind) and 2 when either is null
//     or their kinds do not compare; ankql.like(s, pattern) is SQL LIKE
//     (% any run, _ one character, \ escapes; case-sensitive, by characters);
//   - it yields true exactly when the predicate is true (SQL's unknown is
//     false), the three-valued logic being written out in the expression.
//
// The differential fuzz test holds this program to the interpreter.
type CELForm struct {
	Checked []byte // the CheckedExpr, protobuf-encoded
	Paths   []Path
	Args    []CELArg
}

// CELArg is one operand of a CELForm: a value, or an IN list.
type CELArg struct {
	Value  Value
	List   []Value
	IsList bool
}

// celChecked caches the checked protobuf bytes by CEL source.
var celChecked = struct {
	sync.Mutex
	m map[string][]byte
}{m: map[string][]byte{}}

// PortableCEL returns b's predicate as a CELForm. Errors wrap ErrType or
// ErrEval.
func PortableCEL(b *Bound, schema Schema) (*CELForm, error) {
	if err := check(b.Where, schema); err != nil {
		return nil, err
	}
	g := &celGen{pathIndex: map[string]int{}}
	var src strings.Builder
	g.write(&src, b.Where, true)
	key := src.String()
	celChecked.Lock()
	checked, ok := celChecked.m[key]
	celChecked.Unlock()
	if !ok {
		env, err := celEnv()
		if err != nil {
			return nil, fmt.Errorf("%w: CEL environment: %w", ErrEval, err)
		}
		ast, iss := env.Compile(key)
		if iss.Err() != nil {
			return nil, fmt.Errorf("%w: CEL compile: %w", ErrEval, iss.Err())
		}
		ce, err := cel.AstToCheckedExpr(ast)
		if err != nil {
			return nil, fmt.Errorf("%w: CEL checked form: %w", ErrEval, err)
		}
		if checked, err = proto.Marshal(ce); err != nil {
			return nil, fmt.Errorf("%w: CEL checked form: %w", ErrEval, err)
		}
		celChecked.Lock()
		if len(celChecked.m) >= celCacheSize {
			clear(celChecked.m)
		}
		celChecked.m[key] = checked
		celChecked.Unlock()
	}
	return &CELForm{Checked: checked, Paths: g.paths, Args: g.raw}, nil
}

// Program compiles the form as a CEL implementation elsewhere would: from
// the checked protobuf alone, with the node's function definitions. Errors
// wrap ErrEval and say what was wrong.
func (f *CELForm) Program() (Program, error) {
	var ce exprpb.CheckedExpr
	if err := proto.Unmarshal(f.Checked, &ce); err != nil {
		return nil, fmt.Errorf("%w: CEL checked form: %w", ErrEval, err)
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("%w: CEL environment: %w", ErrEval, err)
	}
	ast, err := cel.CheckedExprToAstWithSource(&ce, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: CEL checked form: %w", ErrEval, err)
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("%w: CEL program yields %s, not bool", ErrEval, ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("%w: CEL program: %w", ErrEval, err)
	}
	args := make([]ref.Val, len(f.Args))
	for i, a := range f.Args {
		if !a.IsList {
			args[i] = toCEL(a.Value)
			continue
		}
		list := make([]ref.Val, len(a.List))
		for j, v := range a.List {
			list[j] = toCEL(v)
		}
		args[i] = types.NewRefValList(types.DefaultTypeAdapter, list)
	}
	p := &celProgram{prg: prg, paths: f.Paths, args: types.NewRefValList(types.DefaultTypeAdapter, args)}
	p.evals.New = func() any {
		e := &celEval{vals: make([]ref.Val, len(p.paths))}
		e.act = celActivation{v: types.NewRefValList(types.DefaultTypeAdapter, e.vals), a: p.args}
		return e
	}
	return p, nil
}
