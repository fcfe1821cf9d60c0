//go:build js

package query

// evaluators are the Program implementations of the js/wasm build.
var evaluators = map[string]func(*Bound, Schema) (Program, error){
	"interp": CompileInterp,
}
