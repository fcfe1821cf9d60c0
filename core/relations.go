package core

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// ErrRelation is wrapped by errors about a relation declaration: an invalid
// name, or a property already declared to refer to another collection.
var ErrRelation = errors.New("ankurah: invalid relation")

// Relation declares that Property of Collection holds references to
// entities of Target (a model field of type Ref[T]; ankurah-gen writes each
// model's Relations). Declared on a node, it makes AnkQL paths through the
// property continue in Target: `artist.name = 'Muse'` on albums reads the
// name of each album's artist (see docs/relations.md).
type Relation struct {
	Collection string
	Property   string
	Target     string
}

// DeclareRelations declares relations on the node, for every query and live
// query that starts after it. Declaring a relation again is a no-op;
// declaring a property to refer to a different collection than before is an
// error wrapping ErrRelation, and so is an invalid name.
func (n *Node) DeclareRelations(rels ...Relation) error {
	for _, r := range rels {
		for _, name := range []string{r.Collection, r.Property, r.Target} {
			if err := ValidateName(name); err != nil {
				return fmt.Errorf("%w: %+v: %w", ErrRelation, r, err)
			}
		}
	}
	s := &n.rels
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rels {
		if t, ok := s.m[r.Collection][r.Property]; ok && t != r.Target {
			return fmt.Errorf("%w: %q.%q already refers to %q, not %q", ErrRelation, r.Collection, r.Property, t, r.Target)
		}
	}
	if s.m == nil {
		s.m = map[string]map[string]string{}
	}
	for _, r := range rels {
		if s.m[r.Collection] == nil {
			s.m[r.Collection] = map[string]string{}
		}
		s.m[r.Collection][r.Property] = r.Target
	}
	return nil
}

// Relations returns the relations declared on the node.
func (n *Node) Relations() []Relation {
	s := &n.rels
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Relation
	for c, props := range s.m {
		for p, t := range props {
			out = append(out, Relation{Collection: c, Property: p, Target: t})
		}
	}
	return out
}

// relationSet is a node's declared relations (query.Relations).
type relationSet struct {
	mu sync.RWMutex
	m  map[string]map[string]string // collection -> property -> target
}

// Target implements query.Relations.
func (s *relationSet) Target(collection, property string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.m[collection][property]
	return t, ok
}

// maxCandidateRefs bounds the referenced ids a traversal term is rewritten
// to for an engine; past it the term is relaxed to true (or false under
// NOT) and only the exact program decides.
const maxCandidateRefs = 1024

// fetcher reads the states of a selection from one collection.
type fetcher func(ctx context.Context, sel *query.Bound) ([]entity.State, error)

// planTraversal prepares an effective selection that traverses references
// for a storage engine, and returns the selection to hand it, how to hand
// it (fetch) and the exact program the node applies to what it returns.
// An engine that evaluates traversals itself (storage.Traverser, on a
// durable node) gets the selection with its paths and each traversed
// collection's read filter; any other gets each traversal term replaced by
// the referenced ids satisfying it, so that it never sees a traversal.
// Without traversal it returns eff, fetchFrom(coll) and a nil program.
func (c *Context) planTraversal(ctx context.Context, collection string, eff *query.Bound, coll storage.Collection) (*query.Bound, query.Program, fetcher, error) {
	tr, err := query.SplitTraversals(eff.Where, collection, &c.node.rels)
	if err != nil || tr == nil {
		return eff, nil, fetchFrom(coll), err
	}
	prog, err := query.CompileTraversed(tr, query.Compile, c.refLookup(ctx, true))
	if err != nil {
		return nil, nil, nil, err
	}
	if tv, ok := coll.(storage.Traverser); ok && c.node.cfg.role != Ephemeral {
		if sel := c.traversalSelection(ctx, tr); sel != nil {
			fetch := func(ctx context.Context, b *query.Bound) ([]entity.State, error) {
				s := *sel
				s.Bound = b
				return tv.FetchTraversal(ctx, &s)
			}
			return &query.Bound{Where: tr.Where, OrderBy: eff.OrderBy, Limit: eff.Limit}, prog, fetch, nil
		}
	}
	repl := make([]query.Expr, len(tr.Terms))
	relaxed := make([]bool, len(tr.Terms))
	for i, t := range tr.Terms {
		ids, ok, err := c.candidateRefs(ctx, t)
		switch {
		case err != nil:
			return nil, nil, nil, err
		case !ok:
			relaxed[i] = true
		case len(ids) == 0:
			repl[i] = &query.Literal{Value: false}
		default:
			repl[i] = &query.In{Path: query.Path{t.Hops[0].Property}, Values: ids}
		}
	}
	where := tr.Rewrite(func(i int, negated bool) query.Expr {
		if relaxed[i] {
			return &query.Literal{Value: !negated}
		}
		return repl[i]
	})
	return &query.Bound{Where: where, OrderBy: eff.OrderBy, Limit: eff.Limit}, prog, fetchFrom(coll), nil
}

// traversalSelection is a traversal as a storage.Traverser takes it (its
// Bound left for the caller): the paths, and for each collection they pass
// through what the caller may read of it — its read filter, not deleted —
// so that an entity the caller may not read makes a path NULL in the
// engine as in the exact program (the agent's per-row check, which no
// engine can run, is left to that program). It is nil when a read filter
// itself follows references (the node then resolves the traversal).
func (c *Context) traversalSelection(ctx context.Context, tr *query.Traversed) *storage.TraversalSelection {
	sel := &storage.TraversalSelection{Readable: map[string]query.Expr{}}
	seen := map[string]bool{}
	n := c.node
	for _, t := range tr.Terms {
		if !seen[t.Key] {
			seen[t.Key] = true
			sel.Paths = append(sel.Paths, storage.TraversalPath{Key: t.Key, Hops: t.Hops, Rest: t.Rest})
		}
		for _, h := range t.Hops {
			if _, ok := sel.Readable[h.Target]; ok {
				continue
			}
			if n.agent.CanAccessCollection(ctx, c.cdata, h.Target) != nil {
				sel.Readable[h.Target] = &query.Literal{Value: false}
				continue
			}
			f, err := n.agent.ReadFilter(ctx, c.cdata, h.Target)
			if err != nil {
				sel.Readable[h.Target] = &query.Literal{Value: false}
				continue
			}
			terms := []query.Expr{&query.IsNull{Path: query.Path{entity.DeletedProperty}}}
			if f != nil {
				if ftr, err := query.SplitTraversals(f, h.Target, &n.rels); err != nil || ftr != nil {
					return nil
				}
				terms = append(terms, f)
			}
			sel.Readable[h.Target] = &query.And{Terms: terms}
		}
	}
	return sel
}

// candidateRefs returns the ids of the entities a traversal term's first
// reference may name for the term to be true: the readable entities at the
// end of the path that satisfy it, then, hop by hop back, the readable
// entities referring to those. ok is false when there are more than
// maxCandidateRefs at some hop, or when the term is true where the path
// resolves to NULL (IS NULL), which no set of ids expresses.
func (c *Context) candidateRefs(ctx context.Context, t *query.Traversal) ([]query.Operand, bool, error) {
	if isNull, ok := t.Term.(*query.IsNull); ok && !isNull.Not {
		return nil, false, nil
	}
	where := t.Term
	var ids []query.Operand
	for k := len(t.Hops) - 1; k >= 0; k-- {
		b := &query.Bound{Where: where, Limit: maxCandidateRefs + 1}
		// An ephemeral node first brings each hop's entities current from
		// its durable peer (a no-op on a durable node): the end of the
		// path by the term, each hop back by the ids of the one after it
		// (ref literals in the selection's text).
		if err := c.node.role.refreshSelection(ctx, c, t.Hops[k].Target, b); err != nil {
			return nil, false, err
		}
		states, err := c.fetchStates(ctx, t.Hops[k].Target, b)
		if err != nil {
			return nil, false, err
		}
		if len(states) > maxCandidateRefs {
			return nil, false, nil
		}
		ids = make([]query.Operand, len(states))
		for i := range states {
			ids[i] = query.Lit(value.Ref(states[i].ID))
		}
		if len(ids) == 0 {
			return nil, true, nil
		}
		if k > 0 {
			where = &query.In{Path: query.Path{t.Hops[k].Property}, Values: ids}
		}
	}
	return ids, true, nil
}

// refLookup returns the lookup through which a traversal program reads
// referenced entities for caller c (refReader.lookup). With memo (a one-off
// fetch) each entity is read once. The lookup outlives ctx's cancellation
// (a live query's program runs on later commits).
func (c *Context) refLookup(ctx context.Context, memo bool) query.Lookup {
	return c.newRefReader(ctx, memo).lookup
}

// refReader reads referenced entities as one caller sees them: an entity
// that is missing, deleted, in a collection the caller may not access,
// outside its read filter or refused by the agent's per-row check is not
// returned (a path through it reads NULL). Safe for concurrent use.
type refReader struct {
	ctx  context.Context
	c    *Context
	memo bool

	mu      sync.Mutex
	filters map[string]query.Program // collection -> read filter (nil: none)
	denied  map[string]bool
	seen    map[refKey]value.Fields
	missing map[refKey]bool
}

type refKey struct {
	coll string
	eid  id.EntityID
}

func (c *Context) newRefReader(ctx context.Context, memo bool) *refReader {
	return &refReader{ctx: context.WithoutCancel(ctx), c: c, memo: memo, filters: map[string]query.Program{}, denied: map[string]bool{},
		seen: map[refKey]value.Fields{}, missing: map[refKey]bool{}}
}

// filter returns the caller's compiled read filter of coll, and false when
// the caller may not read coll at all.
func (r *refReader) filter(coll string) (query.Program, bool) {
	r.mu.Lock()
	p, ok := r.filters[coll]
	d := r.denied[coll]
	r.mu.Unlock()
	if ok || d {
		return p, !d
	}
	n := r.c.node
	deny := func() (query.Program, bool) {
		r.mu.Lock()
		r.denied[coll] = true
		r.mu.Unlock()
		return nil, false
	}
	if n.canAccess(r.ctx, r.c.cdata, coll) != nil {
		return deny()
	}
	f, err := n.agent.ReadFilter(r.ctx, r.c.cdata, coll)
	if err != nil {
		return deny()
	}
	if f != nil {
		if p, err = query.Compile(&query.Bound{Where: f, Limit: -1}, nil); err != nil {
			return deny()
		}
	}
	r.mu.Lock()
	r.filters[coll] = p
	r.mu.Unlock()
	return p, true
}

// readable reports whether the caller sees st: not deleted, and readable.
func (r *refReader) readable(coll string, st *entity.State) bool {
	if st == nil || st.Deleted() {
		return false
	}
	return r.visible(coll, st)
}

// visible reports whether the caller may read st, deleted or not (the
// state of a deleted entity keeps its values: it is sent only to a caller
// who may read them).
func (r *refReader) visible(coll string, st *entity.State) bool {
	f, ok := r.filter(coll)
	if !ok {
		return false
	}
	if f != nil {
		if ok, err := f.Match(st.Values); err != nil || !ok {
			return false
		}
	}
	return r.c.node.agent.CheckRead(r.ctx, r.c.cdata, st) == nil
}

// lookup implements query.Lookup.
func (r *refReader) lookup(coll string, eid id.EntityID) (value.Fields, bool) {
	k := refKey{coll, eid}
	if r.memo {
		r.mu.Lock()
		vs, hit := r.seen[k]
		miss := r.missing[k]
		r.mu.Unlock()
		if hit || miss {
			return vs, hit
		}
	}
	var vs value.Fields
	ok := false
	if rc, err := r.c.node.readCollection(r.ctx, coll); err == nil {
		if st, err := rc.GetState(r.ctx, eid); err == nil && r.readable(coll, &st) {
			vs, ok = st.Values, true
		}
	}
	if r.memo {
		r.mu.Lock()
		if ok {
			r.seen[k] = vs
		} else {
			r.missing[k] = true
		}
		r.mu.Unlock()
	}
	return vs, ok
}

// liveProgram is a live query's compiled selection; tr is its traversal
// terms (nil without), which the reactor follows back from changes of
// referenced entities (reactor_refs.go); after, when set, is the cursor
// its rows sort after under order (Context.matches applies it: a Program
// sees values, not the entity id that breaks ties).
type liveProgram struct {
	query.Program
	tr    *query.Traversed
	after *query.Cursor
	order []query.Order
}

// compileLive compiles a live query's effective selection for caller c: a
// selection that traverses references gets a program reading the current
// state of what it references on every match.
func (c *Context) compileLive(ctx context.Context, collection string, eff *query.Bound) (query.Program, error) {
	tr, err := query.SplitTraversals(eff.Where, collection, &c.node.rels)
	if err != nil {
		return nil, err
	}
	var prog query.Program
	if tr == nil {
		prog, err = query.Compile(eff, nil)
	} else {
		prog, err = query.CompileTraversed(tr, query.Compile, c.refLookup(ctx, false))
	}
	if err != nil {
		return nil, err
	}
	if tr == nil && eff.After == nil {
		return prog, nil
	}
	return &liveProgram{Program: prog, tr: tr, after: eff.After, order: eff.OrderBy}, nil
}

// exactMatch applies a traversal program to a state an engine returned.
func (c *Context) exactMatch(ctx context.Context, prog query.Program, st *entity.State) bool {
	ok, err := prog.Match(st.Values)
	if err != nil {
		c.node.log.WarnContext(ctx, "traversal evaluation failed", "entity", st.ID.String(), "err", err)
		return false
	}
	return ok
}

// pathReader reads, for a subscription whose selection traverses
// references, the entities the traversal paths of its rows pass through,
// as the subscriber may read them. An ephemeral subscriber evaluates the
// selection on its own copies, so the durable side sends these with the
// rows: with the initial result, and with each row that enters, changes or
// leaves (whose path entities are then the ones that moved it).
type pathReader struct {
	tr *query.Traversed
}

// newPathReader returns a pathReader for a selection of collection, or nil
// when the selection does not traverse references.
func (n *Node) newPathReader(collection string, where query.Expr) *pathReader {
	tr, err := query.SplitTraversals(where, collection, &n.rels)
	if err != nil || tr == nil {
		return nil
	}
	return &pathReader{tr: tr}
}

// items appends to out an update item for each entity the paths of rows
// pass through, once per call: its state when the subscriber, c (its
// identity now), may read it (a deleted one when the subscriber may read
// it as it was), else gone (withGone; a copy the subscriber kept must not
// keep a row in), whether it exists or not, so that gone does not tell an
// entity the subscriber may not read from a reference to nothing.
func (pr *pathReader) items(ctx context.Context, c *Context, rows []entity.State, withGone bool, out []transport.UpdateItem) []transport.UpdateItem {
	if pr == nil || len(rows) == 0 {
		return out
	}
	rd := c.newRefReader(ctx, false)
	// Each entity is read once; a readable one's values lead on.
	type reached struct {
		values   value.Fields
		readable bool
	}
	seen := map[refKey]reached{}
	for i := range rows {
		for _, t := range pr.tr.Terms {
			values := rows[i].Values
			for _, h := range t.Hops {
				eid, ok := values.Get(h.Property).AsRef()
				if !ok {
					break
				}
				k := refKey{h.Target, eid}
				next, was := seen[k]
				if !was {
					st, readable, found := readPath(ctx, c, rd, h.Target, eid)
					switch {
					case readable || found && st.Deleted() && rd.visible(h.Target, &st):
						out = append(out, transport.UpdateItem{Tag: transport.TagIncluded, State: st})
					case withGone:
						// Whether it exists or not: an entity the subscriber
						// may not read and one that is not there look alike.
						out = append(out, transport.UpdateItem{Tag: transport.TagIncluded, State: entity.State{ID: eid, Collection: h.Target}, Gone: true})
					}
					next = reached{readable: readable}
					if readable {
						next.values = st.Values
					}
					seen[k] = next
				}
				if !next.readable {
					break // not readable: the path ends here
				}
				values = next.values
			}
		}
	}
	return out
}

// states is items for an initial result: the readable path entities' states.
func (pr *pathReader) states(ctx context.Context, c *Context, rows []entity.State) []entity.State {
	var out []entity.State
	for _, it := range pr.items(ctx, c, rows, false, nil) {
		if !it.State.Deleted() {
			out = append(out, it.State)
		}
	}
	return out
}

// readPath reads one path entity: its state, whether the subscriber may
// read it, and whether it exists.
func readPath(ctx context.Context, c *Context, rd *refReader, coll string, eid id.EntityID) (entity.State, bool, bool) {
	rc, err := c.node.readCollection(ctx, coll)
	if err != nil {
		return entity.State{}, false, false
	}
	st, err := rc.GetState(ctx, eid)
	if err != nil {
		return entity.State{}, false, false
	}
	return st, rd.readable(coll, &st), true
}
