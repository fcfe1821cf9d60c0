//go:build !js

package query

// evaluators are the two Program implementations; every eval test runs on both.
var evaluators = map[string]func(*Bound, Schema) (Program, error){
	"cel":    CompileCEL,
	"interp": CompileInterp,
}
