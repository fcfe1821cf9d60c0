package query

// Compile compiles a bound selection's predicate into a Program, using the
// AST interpreter (CompileCEL gives the CEL program; the two agree on every
// input, which FuzzDifferential checks). When schema declares a property's kind,
// comparisons that can never be true — an int property against a string
// literal, LIKE on a non-string, a JSON path into a non-json property — are
// rejected with an error wrapping ErrType that names both kinds. A nil
// predicate matches everything; a placeholder left unbound in a hand-built
// Bound is an ErrBind error.
func Compile(b *Bound, schema Schema) (Program, error) {
	return compile(b, schema)
}
