package query

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// How traversal compiles. Where Relations declare a property as a reference
// to another collection, a dotted path continues in that collection
// (`artist.name`, `artist.label.country`); otherwise a dotted path reaches
// into JSON exactly as without relations. Neither evaluator follows
// references itself: SplitTraversals takes each term whose path traverses
// out of the predicate and puts a synthetic property (Traversal.Key, a name
// no real property can have) in its place, so the CEL program and the
// interpreter compile and evaluate the rewritten predicate unchanged.
// CompileTraversed wraps that program: before each Match it resolves every
// traversal path of the entity — following the references through a
// caller-supplied lookup — into its synthetic property. A reference that is
// NULL, names a missing or deleted entity, or one the caller may not read,
// resolves to NULL, so the term is unknown under the usual three-valued
// rules. Storage engines never see a traversal: the node gives them
// Traversed.Rewrite's predicate (each traversal term replaced by the set of
// referenced ids that satisfy it) and applies the wrapped program to what
// they return.

// ErrTraversal is wrapped by errors about a path that follows references:
// one that follows more than MaxTraversalDepth of them, or comes back to a
// collection it left through another collection.
var ErrTraversal = errors.New("query: traversal error")

// MaxTraversalDepth is how many references one path may follow.
const MaxTraversalDepth = 4

// Relations says which properties hold references to entities of another
// collection. A nil Relations declares none.
type Relations interface {
	// Target returns the collection that property of collection refers to.
	Target(collection, property string) (target string, ok bool)
}

// Hop is one reference a path follows: the property holding it and the
// collection it leads to.
type Hop struct {
	Property string
	Target   string
}

// Traversal is one term of a predicate whose path follows references.
type Traversal struct {
	// Hops are the references followed, in order (1 to MaxTraversalDepth).
	Hops []Hop
	// Rest is the part of the path read in the last hop's collection.
	Rest Path
	// Key is the synthetic property the rewritten predicate reads the
	// resolved value from; terms with the same path share it.
	Key string
	// Term is the term with Rest as its path: what it asks of an entity of
	// the last hop's collection.
	Term Expr
	// Leaf is the term as the rewritten predicate holds it, reading Key.
	Leaf Expr
}

// Traversed is a predicate with its traversal terms split out.
type Traversed struct {
	// Where is the predicate with each traversal path replaced by Path{Key}.
	Where Expr
	// Terms are the traversal terms, in the order they appear.
	Terms []*Traversal

	orig  Expr
	index map[Expr]int
}

// SplitTraversals finds the terms of where whose paths follow references
// declared by rels, starting in collection. It returns nil when there are
// none (where is then evaluated as it is). A path that follows more than
// MaxTraversalDepth references, or comes back to a collection it left
// through another one (album -> artist -> album), is an error wrapping
// ErrTraversal that names the path; a collection's references to itself
// (parent.parent.name) are followed like any other, up to the depth.
func SplitTraversals(where Expr, collection string, rels Relations) (*Traversed, error) {
	if rels == nil || where == nil {
		return nil, nil
	}
	t := &Traversed{orig: where, index: map[Expr]int{}}
	out, err := t.split(where, collection, rels)
	if err != nil {
		return nil, err
	}
	if len(t.Terms) == 0 {
		return nil, nil
	}
	t.Where = out
	return t, nil
}

func (t *Traversed) split(e Expr, coll string, rels Relations) (Expr, error) {
	switch x := e.(type) {
	case *And:
		terms, err := t.splitAll(x.Terms, coll, rels)
		return &And{Terms: terms}, err
	case *Or:
		terms, err := t.splitAll(x.Terms, coll, rels)
		return &Or{Terms: terms}, err
	case *Not:
		y, err := t.split(x.X, coll, rels)
		return &Not{X: y}, err
	case *Comparison:
		tr, err := traversalOf(x.Path, coll, rels)
		if tr == nil || err != nil {
			return e, err
		}
		tr.Term = &Comparison{Path: tr.Rest, Op: x.Op, Value: x.Value}
		tr.Leaf = &Comparison{Path: Path{tr.Key}, Op: x.Op, Value: x.Value}
		t.add(e, tr)
		return tr.Leaf, nil
	case *In:
		tr, err := traversalOf(x.Path, coll, rels)
		if tr == nil || err != nil {
			return e, err
		}
		tr.Term = &In{Path: tr.Rest, Not: x.Not, Values: x.Values}
		tr.Leaf = &In{Path: Path{tr.Key}, Not: x.Not, Values: x.Values}
		t.add(e, tr)
		return tr.Leaf, nil
	case *IsNull:
		tr, err := traversalOf(x.Path, coll, rels)
		if tr == nil || err != nil {
			return e, err
		}
		tr.Term = &IsNull{Path: tr.Rest, Not: x.Not}
		tr.Leaf = &IsNull{Path: Path{tr.Key}, Not: x.Not}
		t.add(e, tr)
		return tr.Leaf, nil
	}
	return e, nil
}

func (t *Traversed) splitAll(terms []Expr, coll string, rels Relations) ([]Expr, error) {
	out := make([]Expr, len(terms))
	for i, x := range terms {
		y, err := t.split(x, coll, rels)
		if err != nil {
			return nil, err
		}
		out[i] = y
	}
	return out, nil
}

func (t *Traversed) add(orig Expr, tr *Traversal) {
	t.index[orig] = len(t.Terms)
	t.Terms = append(t.Terms, tr)
}

// traversalOf follows p's references from coll; nil when p follows none.
func traversalOf(p Path, coll string, rels Relations) (*Traversal, error) {
	var hops []Hop
	seen := []string{coll}
	i := 0
	for ; i < len(p)-1; i++ {
		target, ok := rels.Target(coll, p[i])
		if !ok {
			break
		}
		if target != coll && slices.Contains(seen, target) {
			return nil, fmt.Errorf("%w: %s comes back to collection %q through %q (cycles through other collections are refused)", ErrTraversal, p, target, p[i])
		}
		if len(hops) == MaxTraversalDepth {
			return nil, fmt.Errorf("%w: %s follows more than %d references", ErrTraversal, p, MaxTraversalDepth)
		}
		hops = append(hops, Hop{Property: p[i], Target: target})
		seen = append(seen, target)
		coll = target
	}
	if len(hops) == 0 {
		return nil, nil
	}
	return &Traversal{Hops: hops, Rest: p[i:], Key: "\x00" + strings.Join(p, "\x00")}, nil
}

// Rewrite returns the original predicate with traversal term i replaced by
// repl(i, negated), where negated tells whether the term sits under an odd
// number of NOTs. A replacement that is true wherever the term is true and
// false wherever it is false (such as `artist IN (ids of matching
// artists)`) keeps every entity the predicate matches, by Kleene logic; so
// does true where negated is false, and false where it is true.
func (t *Traversed) Rewrite(repl func(i int, negated bool) Expr) Expr {
	return t.rewrite(t.orig, false, repl)
}

func (t *Traversed) rewrite(e Expr, neg bool, repl func(int, bool) Expr) Expr {
	if i, ok := t.index[e]; ok {
		return repl(i, neg)
	}
	switch x := e.(type) {
	case *And:
		out := &And{Terms: make([]Expr, len(x.Terms))}
		for i, y := range x.Terms {
			out.Terms[i] = t.rewrite(y, neg, repl)
		}
		return out
	case *Or:
		out := &Or{Terms: make([]Expr, len(x.Terms))}
		for i, y := range x.Terms {
			out.Terms[i] = t.rewrite(y, neg, repl)
		}
		return out
	case *Not:
		return &Not{X: t.rewrite(x.X, !neg, repl)}
	}
	return e
}

// Lookup returns the property values of the entity eid of collection, or
// false when it is missing, deleted or may not be read.
type Lookup func(collection string, eid id.EntityID) (value.Fields, bool)

// Resolve follows the traversal's references from an entity's values
// through lookup and returns the value its path names: NULL when a
// reference is NULL, not a ref, or names an entity lookup does not return.
func (tr *Traversal) Resolve(values value.Fields, lookup Lookup) Value {
	return tr.ResolveFrom(0, values, lookup)
}

// ResolveFrom is Resolve for the values of an entity reached after the
// first hops references (ResolveFrom(0, …) is Resolve; with hops equal to
// len(Hops), values are those of the last collection).
func (tr *Traversal) ResolveFrom(hops int, values value.Fields, lookup Lookup) Value {
	for _, h := range tr.Hops[hops:] {
		eid, ok := values.Get(h.Property).AsRef()
		if !ok {
			return value.Null
		}
		if values, ok = lookup(h.Target, eid); !ok {
			return value.Null
		}
	}
	return Resolve(values, tr.Rest)
}

// CompileTraversed compiles t's rewritten predicate with compile (Compile,
// CompileCEL or CompileInterp) and returns a Program that resolves the
// traversal paths of each entity through lookup before matching. lookup
// may be called from several goroutines at once.
func CompileTraversed(t *Traversed, compile func(*Bound, Schema) (Program, error), lookup Lookup) (Program, error) {
	inner, err := compile(&Bound{Where: t.Where, Limit: -1}, nil)
	if err != nil {
		return nil, err
	}
	p := &traversedProgram{inner: inner, lookup: lookup}
	seen := map[string]bool{}
	for _, tr := range t.Terms {
		if !seen[tr.Key] {
			seen[tr.Key] = true
			p.paths = append(p.paths, tr)
		}
	}
	return p, nil
}

type traversedProgram struct {
	inner  Program
	paths  []*Traversal // one per Key
	lookup Lookup
}

// Match implements Program.
func (p *traversedProgram) Match(values value.Fields) (bool, error) {
	resolved := make([]value.Field, len(p.paths))
	for i, tr := range p.paths {
		resolved[i] = value.Field{Name: tr.Key, Value: tr.Resolve(values, p.lookup)}
	}
	return p.inner.Match(values.Merge(value.MakeFields(resolved)))
}
