package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// ErrInclude is wrapped by errors about a live query's includes: a
// property that is not a declared reference, a reverse path that does not
// lead to the query's collection, a repeated name, too many includes.
var ErrInclude = errors.New("ankurah: invalid include")

// MaxIncludes is the most includes one live query may ask for.
const MaxIncludes = transport.MaxIncludes

// QueryOption changes what a live query delivers. Pass options to Query
// after the values of the query's placeholders (they are not bound to
// placeholders), or to QueryBound.
type QueryOption interface{ queryOption() }

// IncludeOption is a QueryOption asking a live query to deliver the
// entities related to its rows, kept current with them (see Include and
// IncludeReverse).
type IncludeOption struct {
	name     string
	property string
	path     string // reverse: "collection.property"
}

func (IncludeOption) queryOption() {}

// Include asks a live query to deliver, with its rows, the entities each
// row's reference property names — Include("artist") on albums delivers
// each album's artist — under the include's name, the property. The
// property must be a declared relation of the query's collection
// (DeclareRelations). Included entities are those the caller may read;
// they arrive in the same ChangeSet as the row change that brought or
// dropped them, and a change of an included entity alone arrives as a
// ChangeSet of its own (see ChangeSet.IncludeChanges).
func Include(property string) IncludeOption {
	return IncludeOption{name: property, property: property}
}

// IncludeReverse asks a live query to deliver, under name, the entities
// that refer to its rows through path, "collection.property":
// IncludeReverse("albums", "album.artist") on artists delivers the albums
// whose artist is one of the rows. The relation (album.artist → artist)
// must be declared.
func IncludeReverse(name, path string) IncludeOption {
	return IncludeOption{name: name, path: path}
}

// IncludeChange is one included entity's change in a ChangeSet: it was
// included when the subscriber subscribed (Initial), became included
// (Add), changed while included (Update) or stopped being included
// (Remove: its row left, the row's reference moved, or the entity was
// deleted or became unreadable).
type IncludeChange struct {
	Name   string // the include's name
	Kind   ChangeKind
	Entity *View
}

// includeSpec is a resolved include: entities of Collection, related to a
// row by Property — the row's reference (forward) or the entity's
// reference to the row (Reverse).
type includeSpec struct {
	Name       string
	Collection string
	Property   string
	Reverse    bool
}

// splitOptions takes the query options out of a query's arguments.
func splitOptions(args []any) ([]any, []QueryOption) {
	var opts []QueryOption
	out := args[:0:0]
	for _, a := range args {
		if o, ok := a.(QueryOption); ok {
			opts = append(opts, o)
			continue
		}
		out = append(out, a)
	}
	if opts == nil {
		return args, nil
	}
	return out, opts
}

// resolveIncludes checks a live query's includes against the node's
// declared relations.
func (n *Node) resolveIncludes(collection string, opts []QueryOption) ([]includeSpec, error) {
	var specs []includeSpec
	names := map[string]bool{}
	for _, o := range opts {
		io, ok := o.(IncludeOption)
		if !ok {
			continue
		}
		if err := ValidateName(io.name); err != nil {
			return nil, fmt.Errorf("%w: name %q: %w", ErrInclude, io.name, err)
		}
		if names[io.name] {
			return nil, fmt.Errorf("%w: %q is included twice", ErrInclude, io.name)
		}
		names[io.name] = true
		var s includeSpec
		if io.path == "" {
			t, ok := n.rels.Target(collection, io.property)
			if !ok {
				return nil, fmt.Errorf("%w: %q is not a declared reference of %q (DeclareRelations)", ErrInclude, io.property, collection)
			}
			s = includeSpec{Name: io.name, Collection: t, Property: io.property}
		} else {
			coll, prop, ok := strings.Cut(io.path, ".")
			if !ok || strings.Contains(prop, ".") {
				return nil, fmt.Errorf("%w: reverse path %q: want collection.property", ErrInclude, io.path)
			}
			if t, ok := n.rels.Target(coll, prop); !ok || t != collection {
				return nil, fmt.Errorf("%w: %q is not a declared reference of %q to %q (DeclareRelations)", ErrInclude, prop, coll, collection)
			}
			s = includeSpec{Name: io.name, Collection: coll, Property: prop, Reverse: true}
		}
		specs = append(specs, s)
	}
	if len(specs) > MaxIncludes {
		return nil, fmt.Errorf("%w: %d includes, at most %d", ErrInclude, len(specs), MaxIncludes)
	}
	return specs, nil
}

// validInclude checks an include a client asked for over the wire (the
// server does not need the relation declared: the client resolved it, and
// the caller's reads decide what it gets).
func validInclude(s includeSpec) error {
	for _, name := range []string{s.Name, s.Collection, s.Property} {
		if err := ValidateName(name); err != nil {
			return fmt.Errorf("%w: %+v: %w", ErrInclude, s, err)
		}
	}
	return nil
}

// includeSet is what one include of a live query holds (guarded by the
// live query's mu).
type includeSet struct {
	spec includeSpec
	byID map[id.EntityID]*View // the included entities
	snap []*View               // byID by id, nil when it must be made again
	// forward: the entity each row refers to, and how many rows refer to
	// each (an entity is watched while any row refers to it, readable,
	// present or not).
	rowRef map[id.EntityID]id.EntityID
	refs   map[id.EntityID]int
	// reverse: the rows watched for referrers, and the row each included
	// entity refers to.
	rows  map[id.EntityID]map[id.EntityID]struct{} // row -> included entities
	owner map[id.EntityID]id.EntityID
}

func newIncludeSet(s includeSpec) *includeSet {
	return &includeSet{spec: s, byID: map[id.EntityID]*View{}, rowRef: map[id.EntityID]id.EntityID{}, refs: map[id.EntityID]int{},
		rows: map[id.EntityID]map[id.EntityID]struct{}{}, owner: map[id.EntityID]id.EntityID{}}
}

func (s *includeSet) views() []*View {
	if s.snap == nil {
		s.snap = make([]*View, 0, len(s.byID))
		for _, v := range s.byID {
			s.snap = append(s.snap, v)
		}
		slices.SortFunc(s.snap, func(a, b *View) int { return a.state.ID.Compare(b.state.ID) })
	}
	return s.snap
}

// incIndex is the reactor's index of what live queries include: by
// collection and entity id, the entities an include holds or a forward
// include waits for; by collection, reference property and row id, the
// rows whose referrers a reverse include holds. A commit's change is
// offered only to the live queries whose includes it can touch.
type incIndex struct {
	mu  sync.Mutex
	ids map[string]map[id.EntityID]map[*LiveQuery]int
	rev map[string]map[string]map[id.EntityID]map[*LiveQuery]int
	// offered counts the (live query, change) pairs offered (for tests of
	// what a commit costs).
	offered uint64
}

func (x *incIndex) watchID(coll string, eid id.EntityID, lq *LiveQuery, delta int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ids == nil {
		x.ids = map[string]map[id.EntityID]map[*LiveQuery]int{}
	}
	bump(x.ids, coll, eid, lq, delta)
}

func (x *incIndex) watchRow(coll, prop string, row id.EntityID, lq *LiveQuery, delta int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.rev == nil {
		x.rev = map[string]map[string]map[id.EntityID]map[*LiveQuery]int{}
	}
	byProp := x.rev[coll]
	if byProp == nil {
		byProp = map[string]map[id.EntityID]map[*LiveQuery]int{}
		x.rev[coll] = byProp
	}
	bump(byProp, prop, row, lq, delta)
	if len(byProp) == 0 {
		delete(x.rev, coll)
	}
}

func bump[K comparable](m map[K]map[id.EntityID]map[*LiveQuery]int, k K, eid id.EntityID, lq *LiveQuery, delta int) {
	byID := m[k]
	if byID == nil {
		byID = map[id.EntityID]map[*LiveQuery]int{}
		m[k] = byID
	}
	qs := byID[eid]
	if qs == nil {
		qs = map[*LiveQuery]int{}
		byID[eid] = qs
	}
	if qs[lq] += delta; qs[lq] <= 0 {
		delete(qs, lq)
		if len(qs) == 0 {
			delete(byID, eid)
			if len(byID) == 0 {
				delete(m, k)
			}
		}
	}
}

// match returns, per live query, the changes its includes can be touched
// by (in the order of the live queries' first hit).
func (x *incIndex) match(changes []change) (map[*LiveQuery][]*change, []*LiveQuery) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.ids) == 0 && len(x.rev) == 0 {
		return nil, nil
	}
	var hits map[*LiveQuery][]*change
	var order []*LiveQuery
	hit := func(lq *LiveQuery, ch *change) {
		if hits == nil {
			hits = map[*LiveQuery][]*change{}
		}
		cs, seen := hits[lq]
		if !seen {
			order = append(order, lq)
		}
		if len(cs) == 0 || cs[len(cs)-1] != ch {
			hits[lq] = append(cs, ch)
			x.offered++
		}
	}
	for i := range changes {
		ch := &changes[i]
		for lq := range x.ids[ch.collection][ch.after.ID] {
			hit(lq, ch)
		}
		for prop, byRow := range x.rev[ch.collection] {
			if r, ok := ch.after.Values.Get(prop).AsRef(); ok {
				for lq := range byRow[r] {
					hit(lq, ch)
				}
			}
		}
	}
	return hits, order
}

// includeCtx is what include bookkeeping reads with: the caller's view of
// storage.
type includeCtx struct {
	ctx context.Context
	rd  *refReader
}

// initIncludes fills the includes for the current rows (lq.mu held). It
// reports nothing: the includes are new.
func (lq *LiveQuery) initIncludes(ctx context.Context) {
	if len(lq.incSpecs) == 0 {
		return
	}
	lq.dropIncludes()
	lq.incs = make([]*includeSet, len(lq.incSpecs))
	for i, s := range lq.incSpecs {
		lq.incs[i] = newIncludeSet(s)
	}
	rows := make([]id.EntityID, len(lq.items))
	for i, v := range lq.items {
		rows[i] = v.state.ID
	}
	lq.rowsChanged(ctx, rows, nil)
	lq.incPending = nil
}

// dropIncludes takes the live query's includes out of the reactor's index
// (lq.mu held).
func (lq *LiveQuery) dropIncludes() {
	x := &lq.ctx.node.reactor.inc
	for _, s := range lq.incs {
		if s.spec.Reverse {
			for row := range s.rows {
				x.watchRow(s.spec.Collection, s.spec.Property, row, lq, -1)
			}
			for eid := range s.owner {
				x.watchID(s.spec.Collection, eid, lq, -1)
			}
			continue
		}
		for eid := range s.refs {
			x.watchID(s.spec.Collection, eid, lq, -1)
		}
	}
	lq.incs = nil
}

// rowsChanged brings the includes up to date for rows that entered, left
// or changed (their membership and state as lq.byID holds them now),
// appending what changed to out (lq.mu held).
func (lq *LiveQuery) rowsChanged(ctx context.Context, rows []id.EntityID, out []IncludeChange) []IncludeChange {
	if len(lq.incs) == 0 || len(rows) == 0 {
		return out
	}
	ic := &includeCtx{ctx: ctx, rd: lq.ctx.newRefReader(ctx, false)}
	x := &lq.ctx.node.reactor.inc
	for _, s := range lq.incs {
		coll := s.spec.Collection
		if s.spec.Reverse {
			var enter []query.Operand
			for _, row := range rows {
				_, member := lq.byID[row]
				kids, watched := s.rows[row]
				switch {
				case member && !watched:
					s.rows[row] = map[id.EntityID]struct{}{}
					x.watchRow(coll, s.spec.Property, row, lq, 1)
					enter = append(enter, query.Lit(value.Ref(row)))
				case !member && watched:
					delete(s.rows, row)
					x.watchRow(coll, s.spec.Property, row, lq, -1)
					for eid := range kids {
						out = append(out, IncludeChange{Name: s.spec.Name, Kind: Remove, Entity: s.byID[eid]})
						s.forget(eid)
						x.watchID(coll, eid, lq, -1)
					}
				}
			}
			for start := 0; start < len(enter); start += maxCandidateRefs {
				ids := enter[start:min(start+maxCandidateRefs, len(enter))]
				for _, st := range ic.referrers(lq, coll, s.spec.Property, ids) {
					row, _ := st.Values.Get(s.spec.Property).AsRef()
					if _, ok := s.byID[st.ID]; ok {
						continue
					}
					v := newView(st)
					s.byID[st.ID], s.owner[st.ID], s.snap = v, row, nil
					s.rows[row][st.ID] = struct{}{}
					x.watchID(coll, st.ID, lq, 1)
					out = append(out, IncludeChange{Name: s.spec.Name, Kind: Add, Entity: v})
				}
			}
			continue
		}
		for _, row := range rows {
			old, had := s.rowRef[row]
			var now id.EntityID
			has := false
			if v, member := lq.byID[row]; member {
				now, has = v.state.Values.Get(s.spec.Property).AsRef()
			}
			if had && has && old == now {
				continue
			}
			if had {
				delete(s.rowRef, row)
				if s.refs[old]--; s.refs[old] <= 0 {
					delete(s.refs, old)
					x.watchID(coll, old, lq, -1)
					if v := s.byID[old]; v != nil {
						out = append(out, IncludeChange{Name: s.spec.Name, Kind: Remove, Entity: v})
						delete(s.byID, old)
						s.snap = nil
					}
				}
			}
			if has {
				s.rowRef[row] = now
				if s.refs[now]++; s.refs[now] == 1 {
					x.watchID(coll, now, lq, 1)
					if st, ok := ic.get(lq, coll, now); ok {
						v := newView(st)
						s.byID[now], s.snap = v, nil
						out = append(out, IncludeChange{Name: s.spec.Name, Kind: Add, Entity: v})
					}
				}
			}
		}
	}
	return out
}

// forget drops an included entity of a reverse include.
func (s *includeSet) forget(eid id.EntityID) {
	if row, ok := s.owner[eid]; ok {
		delete(s.rows[row], eid)
	}
	delete(s.owner, eid)
	delete(s.byID, eid)
	s.snap = nil
}

// get reads an entity as the caller sees it.
func (ic *includeCtx) get(lq *LiveQuery, coll string, eid id.EntityID) (entity.State, bool) {
	rc, err := lq.ctx.node.readCollection(ic.ctx, coll)
	if err != nil {
		return entity.State{}, false
	}
	st, err := rc.GetState(ic.ctx, eid)
	if err != nil || !ic.rd.readable(coll, &st) {
		return entity.State{}, false
	}
	return st, true
}

// referrers reads the readable entities of coll whose prop refers to one
// of ids.
func (ic *includeCtx) referrers(lq *LiveQuery, coll, prop string, ids []query.Operand) []entity.State {
	rc, err := lq.ctx.node.readCollection(ic.ctx, coll)
	if err != nil {
		return nil
	}
	states, err := rc.FetchStates(ic.ctx, &query.Bound{Where: &query.In{Path: query.Path{prop}, Values: ids}, Limit: -1})
	if err != nil {
		lq.ctx.node.log.ErrorContext(ic.ctx, "live query: reading a reverse include failed", "query", lq.qid.String(), "collection", coll, "err", err)
		return nil
	}
	out := states[:0]
	for i := range states {
		if ic.rd.readable(coll, &states[i]) {
			out = append(out, states[i])
		}
	}
	return out
}

// includedChanged applies changes of entities the includes hold or wait
// for, appending what changed to out (lq.mu held).
func (lq *LiveQuery) includedChanged(ctx context.Context, changes []*change, out []IncludeChange) []IncludeChange {
	if len(lq.incs) == 0 || len(changes) == 0 {
		return out
	}
	ic := &includeCtx{ctx: ctx, rd: lq.ctx.newRefReader(ctx, false)}
	x := &lq.ctx.node.reactor.inc
	for _, ch := range changes {
		st := &ch.after
		for _, s := range lq.incs {
			if s.spec.Collection != ch.collection {
				continue
			}
			prev, was := s.byID[st.ID]
			in := ic.rd.readable(ch.collection, st)
			var row id.EntityID
			if s.spec.Reverse {
				var ok bool
				row, ok = st.Values.Get(s.spec.Property).AsRef()
				_, member := s.rows[row]
				in = in && ok && member
			} else if s.refs[st.ID] == 0 {
				continue // no row refers to it (any more)
			}
			switch {
			case in && was && prev.state.Head.Equal(st.Head):
				// already holds this state (read when its row arrived)
			case in:
				v := newView(*st)
				kind := Add
				if was {
					kind = Update
				}
				s.byID[st.ID], s.snap = v, nil
				if s.spec.Reverse {
					if old, ok := s.owner[st.ID]; ok && old != row {
						delete(s.rows[old], st.ID)
					}
					if !was {
						x.watchID(ch.collection, st.ID, lq, 1)
					}
					s.owner[st.ID] = row
					s.rows[row][st.ID] = struct{}{}
				}
				out = append(out, IncludeChange{Name: s.spec.Name, Kind: kind, Entity: v})
			case was:
				out = append(out, IncludeChange{Name: s.spec.Name, Kind: Remove, Entity: newView(*st)})
				if s.spec.Reverse {
					s.forget(st.ID)
					x.watchID(ch.collection, st.ID, lq, -1)
				} else {
					delete(s.byID, st.ID)
					s.snap = nil
				}
			}
		}
	}
	return out
}

// includedSnapshot is the included entities by include name (lq.mu held).
func (lq *LiveQuery) includedSnapshot() map[string][]*View {
	if len(lq.incs) == 0 {
		return nil
	}
	m := make(map[string][]*View, len(lq.incs))
	for _, s := range lq.incs {
		m[s.spec.Name] = s.views()
	}
	return m
}

// Included returns the entities an include of the live query holds now
// (by id), or nil for a name it does not include.
func (lq *LiveQuery) Included(name string) []*View {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	for _, s := range lq.incs {
		if s.spec.Name == name {
			return slices.Clone(s.views())
		}
	}
	return nil
}

// finishIncludes adds to a ChangeSet being published the include changes
// its row changes cause and those of the commit's changes of included
// entities not yet applied (lq.mu held).
func (lq *LiveQuery) finishIncludes(ctx context.Context, cs *ChangeSet) {
	if len(lq.incs) == 0 {
		return
	}
	rows := make([]id.EntityID, 0, len(cs.Changes))
	for _, ch := range cs.Changes {
		rows = append(rows, ch.Entity.state.ID)
	}
	out := lq.rowsChanged(ctx, rows, nil)
	pending := lq.incPending
	lq.incPending = nil
	out = lq.includedChanged(ctx, pending, out)
	cs.IncludeChanges = append(cs.IncludeChanges, out...)
	cs.Included = lq.includedSnapshot()
}

// settleIncludes publishes the include changes of a commit that no row
// change of the live query carried (called by the reactor after the
// commit's row changes, in log order).
func (lq *LiveQuery) settleIncludes(ctx context.Context) {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if lq.closed || len(lq.incPending) == 0 {
		lq.incPending = nil
		return
	}
	var cs ChangeSet
	lq.finishIncludes(ctx, &cs)
	if len(cs.IncludeChanges) == 0 {
		return
	}
	lq.publish(cs)
}

// rebuildIncludes reads every include again for the current rows and
// returns how it differs from before (lq.mu held): the caller or the
// selection changed, so what the caller may read may have too.
func (lq *LiveQuery) rebuildIncludes(ctx context.Context) []IncludeChange {
	if len(lq.incSpecs) == 0 {
		return nil
	}
	old := map[string]map[id.EntityID]*View{}
	for _, s := range lq.incs {
		old[s.spec.Name] = s.byID
	}
	lq.initIncludes(ctx)
	var out []IncludeChange
	for _, s := range lq.incs {
		prev := old[s.spec.Name]
		for _, v := range s.views() {
			p, was := prev[v.state.ID]
			switch {
			case !was:
				out = append(out, IncludeChange{Name: s.spec.Name, Kind: Add, Entity: v})
			case !p.state.Head.Equal(v.state.Head):
				out = append(out, IncludeChange{Name: s.spec.Name, Kind: Update, Entity: v})
			}
		}
		for eid, v := range prev {
			if _, ok := s.byID[eid]; !ok {
				out = append(out, IncludeChange{Name: s.spec.Name, Kind: Remove, Entity: v})
			}
		}
	}
	return out
}

// includeVersion is the protocol version that carries includes.
const includeVersion = 4

// wireIncludes is specs as a subscription carries them.
func wireIncludes(specs []includeSpec) []transport.Include {
	if len(specs) == 0 {
		return nil
	}
	out := make([]transport.Include, len(specs))
	for i, s := range specs {
		out[i] = transport.Include{Name: s.Name, Collection: s.Collection, Property: s.Property, Reverse: s.Reverse}
	}
	return out
}

// includesFromWire checks the includes a client asked for.
func includesFromWire(ws []transport.Include) ([]includeSpec, error) {
	if len(ws) > MaxIncludes {
		return nil, fmt.Errorf("%w: %d includes, at most %d", ErrInclude, len(ws), MaxIncludes)
	}
	var specs []includeSpec
	names := map[string]bool{}
	for _, w := range ws {
		s := includeSpec{Name: w.Name, Collection: w.Collection, Property: w.Property, Reverse: w.Reverse}
		if err := validInclude(s); err != nil {
			return nil, err
		}
		if names[s.Name] {
			return nil, fmt.Errorf("%w: %q is included twice", ErrInclude, s.Name)
		}
		names[s.Name] = true
		specs = append(specs, s)
	}
	return specs, nil
}

// includedStates is every state the includes hold (lq.mu not held).
func (lq *LiveQuery) includedStates() []entity.State {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	var out []entity.State
	for _, s := range lq.incs {
		for _, v := range s.views() {
			out = append(out, v.state)
		}
	}
	return out
}

// Includes returns the names of the live query's includes, in the order
// they were asked for.
func (lq *LiveQuery) Includes() []string {
	out := make([]string, len(lq.incSpecs))
	for i, s := range lq.incSpecs {
		out[i] = s.Name
	}
	return out
}
