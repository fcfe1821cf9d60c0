package rules

import (
	"encoding/json"
	"fmt"

	"cel.dev/cel-go/cel"

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

// props converts an entity's values for CEL (json as decoded JSON).
func props(st *entity.State) map[string]any {
	out := map[string]any{}
	if st == nil {
		return out
	}
	for k, v := range st.Values {
		out[k] = celValue(v)
	}
	return out
}

func celValue(v value.Value) any {
	if j, ok := v.AsJSON(); ok {
		var x any
		if json.Unmarshal(j, &x) == nil {
			return x
		}
	}
	if r, ok := v.AsRef(); ok {
		return r.String()
	}
	return v.Interface()
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
