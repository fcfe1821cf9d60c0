//go:build !js

package query

func compile(b *Bound, schema Schema) (Program, error) { return CompileCEL(b, schema) }
