package query

// Conjuncts returns the terms of the top-level conjunction of e (flattening
// nested ANDs), or e alone when it is not an AND; nil for nil. A row matches
// e exactly when it matches every conjunct, so an engine can push down the
// conjuncts it understands and leave the rest to the residual filter.
func Conjuncts(e Expr) []Expr {
	if e == nil {
		return nil
	}
	a, ok := e.(*And)
	if !ok {
		return []Expr{e}
	}
	var out []Expr
	for _, t := range a.Terms {
		out = append(out, Conjuncts(t)...)
	}
	return out
}
