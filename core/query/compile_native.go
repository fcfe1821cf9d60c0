//go:build !js

package query

// On native builds Compile also uses the interpreter: it answers exactly as
// the CEL program does (FuzzDifferential holds them together) but evaluates
// about ten times faster without allocating, and live-query matching and
// residual filtering run it once per entity per change. CompileCEL remains
// the type-checked reference evaluator.
func compile(b *Bound, schema Schema) (Program, error) { return CompileInterp(b, schema) }
