package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// costLimit bounds the work one condition may do.
const costLimit = 100000

// compiled is a loaded rules file: keys parsed and every CEL program built.
type compiled struct {
	file   *File
	keys   []verifyKey
	grants map[string]map[string]*cgrant // role -> collection -> grant
}

type cgrant struct {
	read, write, del *crule
}

type crule struct {
	cond  cel.Program // nil: always true
	where *query.Selection
	args  []cel.Program
}

var env = func() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("auth", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("collection", cel.StringType),
		cel.Variable("resource", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("before", cel.DynType),
		cel.Variable("after", cel.MapType(cel.StringType, cel.DynType)),
		// AnkQL compares int and float numerically; so do the rules.
		cel.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		panic(err)
	}
	return e
}()

func compileExpr(src string, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if want != nil && !ast.OutputType().IsExactType(want) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, fmt.Errorf("condition has type %s, want %s", ast.OutputType(), want)
	}
	return env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
}

func compileFile(f *File) (*compiled, error) {
	keys, err := loadKeys(f.Tokens.Keys)
	if err != nil {
		return nil, err
	}
	c := &compiled{file: f, keys: keys, grants: map[string]map[string]*cgrant{}}
	for role, colls := range f.Roles {
		c.grants[role] = map[string]*cgrant{}
		for coll, g := range colls {
			cg := &cgrant{}
			for _, x := range []struct {
				name string
				r    *Rule
				dst  **crule
			}{{"read", g.Read, &cg.read}, {"write", g.Write, &cg.write}, {"delete", g.Delete, &cg.del}} {
				if x.r == nil {
					continue
				}
				cr, err := compileRule(x.r)
				if err != nil {
					return nil, fmt.Errorf("%w: role %q collection %q %s: %v", ErrConfig, role, coll, x.name, err)
				}
				*x.dst = cr
			}
			if cg.del == nil {
				cg.del = cg.write
			}
			c.grants[role][coll] = cg
		}
	}
	return c, nil
}

func compileRule(r *Rule) (*crule, error) {
	cr := &crule{}
	if r.If != "" && r.If != "true" {
		p, err := compileExpr(r.If, cel.BoolType)
		if err != nil {
			return nil, err
		}
		cr.cond = p
	}
	if r.Where != "" {
		sel, err := query.Parse(r.Where)
		if err != nil {
			return nil, err
		}
		cr.where = sel
		for _, a := range r.Args {
			p, err := compileExpr(a, nil)
			if err != nil {
				return nil, fmt.Errorf("arg %q: %v", a, err)
			}
			cr.args = append(cr.args, p)
		}
	}
	return cr, nil
}

func authVars(a *Auth) map[string]any {
	roles := make([]any, len(a.Roles))
	for i, r := range a.Roles {
		roles[i] = r
	}
	claims := a.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	return map[string]any{"sub": a.Subject, "roles": roles, "claims": claims}
}

// props converts an entity's values for CEL (see celValue).
func props(st *entity.State) map[string]any {
	out := map[string]any{}
	if st == nil {
		return out
	}
	for k, v := range st.Values.All() {
		out[k] = celValue(v)
	}
	return out
}

// celValue gives CEL a property value as AnkQL sees it, so that a condition
// and a read filter written alike agree on every row:
//
//   - null, bool, int, float, string and bytes are themselves;
//   - a json object or array is a map or list, whose members are what an
//     AnkQL path into it yields (value.Value.Path): JSON null is null,
//     integers are int, other numbers double, strings string, and nested
//     objects and arrays maps and lists again — so resource.meta.owner is
//     what `meta.owner` compares;
//   - a json document that is a scalar ('"alice"', '3', 'null') is an opaque
//     json value equal only to the same document: AnkQL compares a json
//     property with json alone (`owner = 'alice'` does not match the json
//     string "alice"), and so resource.owner == "alice" is false;
//   - an entity reference is its id's text.
func celValue(v value.Value) any {
	if j, ok := v.AsJSON(); ok {
		d := json.NewDecoder(bytes.NewReader(j))
		d.UseNumber()
		var x any
		if d.Decode(&x) != nil {
			return celJSON(j)
		}
		switch x.(type) {
		case map[string]any, []any:
			return celJSONMember(x)
		}
		return celJSON(j)
	}
	if r, ok := v.AsRef(); ok {
		return r.String()
	}
	return v.Interface()
}

// celJSONMember converts decoded JSON (numbers as json.Number) the way
// value.FromJSON does.
func celJSONMember(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = celJSONMember(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = celJSONMember(e)
		}
		return t
	case json.Number:
		v, err := value.FromJSON([]byte(t))
		if err != nil {
			return nil
		}
		return v.Interface()
	}
	return x // nil, bool, string
}

// celJSONType is the CEL type of a json document that is a scalar.
var celJSONType = types.NewOpaqueType("ankurah.json")

// celJSON is a json document that is a scalar, inside CEL: it equals only
// the same (canonical) document and converts to nothing else.
type celJSON string

// ConvertToNative implements ref.Val.
func (j celJSON) ConvertToNative(typ reflect.Type) (any, error) {
	return nil, fmt.Errorf("rules: a json value has no native form %v", typ)
}

// ConvertToType implements ref.Val.
func (j celJSON) ConvertToType(typ ref.Type) ref.Val {
	if typ == types.TypeType {
		return celJSONType
	}
	return types.NewErr("rules: no conversion from json to %s", typ.TypeName())
}

// Equal implements ref.Val.
func (j celJSON) Equal(other ref.Val) ref.Val {
	o, ok := other.(celJSON)
	return types.Bool(ok && o == j)
}

// Type implements ref.Val.
func (j celJSON) Type() ref.Type { return celJSONType }

// Value implements ref.Val: the canonical JSON text.
func (j celJSON) Value() any { return string(j) }

// bind evaluates a read rule's args (CEL over auth and collection only, never
// the row) and binds them to its where.
func (r *crule) bind(vars map[string]any) (*query.Bound, error) {
	args := make([]any, len(r.args))
	for i, p := range r.args {
		out, _, err := p.Eval(vars)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		args[i] = out.Value()
	}
	return r.where.Bind(args...)
}

func (r *crule) allows(vars map[string]any) (bool, error) {
	if r.cond == nil {
		return true, nil
	}
	out, _, err := r.cond.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	return ok && b, nil
}
