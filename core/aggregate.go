package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/signal"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// AggregateSpec says how a live aggregate groups and aggregates the rows of
// its selection (see storage.AggregateSpec).
type AggregateSpec = storage.AggregateSpec

// Agg is one aggregate term of an AggregateSpec: sum, min, max or avg of a
// property.
type Agg = storage.Agg

// SumOf, MinOf, MaxOf and AvgOf make the terms of an AggregateSpec.
func SumOf(property string) Agg { return Agg{Op: storage.Sum, Property: property} }

// MinOf is the least non-NULL value of property in a group.
func MinOf(property string) Agg { return Agg{Op: storage.Min, Property: property} }

// MaxOf is the greatest non-NULL value of property in a group.
func MaxOf(property string) Agg { return Agg{Op: storage.Max, Property: property} }

// AvgOf is the mean of the numbers of property in a group (a float).
func AvgOf(property string) Agg { return Agg{Op: storage.Avg, Property: property} }

// Group is one group of a live aggregate: its key (the values of the spec's
// GroupBy, in order; empty without GroupBy), how many rows it has, and the
// value of each of the spec's terms, in order (NULL where no row had a value
// the term takes). Numbers that are integral and fit an int64 read as ints.
type Group struct {
	Key    []value.Value
	Count  int64
	Values []value.Value
}

// GroupChange is one group's change in a GroupChangeSet: Initial, Add (a
// new group), Update (its count or values changed) or Remove (its last row
// left).
type GroupChange struct {
	Kind  ChangeKind
	Group Group
}

// GroupChangeSet is what a live aggregate reports: the groups that changed
// since the subscriber's last change set, and every group after them,
// ordered by key.
type GroupChangeSet struct {
	Changes []GroupChange
	Groups  []Group
}

// ExactReadFilter is an optional policy.Agent power: an agent that
// implements it, and reports true for a caller and collection, promises
// that CheckRead refuses no entity its ReadFilter admits. Only then may an
// aggregate be computed by the storage engine (storage.Aggregator), which
// cannot run CheckRead per row; otherwise the node aggregates a scan and
// checks every row. policy.Permissive needs no declaration.
type ExactReadFilter interface {
	ReadFilterIsExact(ctx context.Context, cdata policy.ContextData, collection string) bool
}

// LiveAggregate is an aggregate over a selection that stays current: COUNT
// (Context.Count) or GROUP BY with sum/min/max/avg (Context.Aggregate). Each
// commit updates only the groups its changes touch: the node keeps one
// accumulator per group (and, for min and max, what survives a delete —
// the group's values in order, or a re-read of that one group from an
// engine that aggregated the initial value itself).
//
// A LiveAggregate is safe for concurrent use. Subscribers run on one
// goroutine of the aggregate, never under a lock of the node; a subscriber
// slower than commits gets the changes since its last change set coalesced
// into one (the aggregate holds at most one pending change per group).
type LiveAggregate struct {
	ctx        *Context
	collection string
	spec       AggregateSpec
	qid        id.ULID
	grouped    bool

	mu   sync.Mutex
	eff  *query.Bound
	prog query.Program
	// pushed is the engine's aggregator when the value came from it (then
	// a change is accounted by the state it replaced); otherwise members
	// holds each counted entity's contribution.
	pushed  storage.Aggregator
	members map[id.EntityID]*member
	// refs are the selection's traversal terms at each hop (nil when it
	// follows no reference; the aggregate then counts members).
	refs    []*refDep
	groups  map[string]*groupState
	results map[string]Group // current, by group key
	// remote: the groups come from a durable peer (an ephemeral node).
	remote    bool
	remoteSub uint64
	err       error

	// Delivery (guarded by mu): what subscribers were last handed, the
	// groups changed since, the subscribers and those still to get their
	// Initial change set.
	delivered  map[string]Group
	dirty      map[string]struct{}
	subs       map[int]func(GroupChangeSet)
	fresh      []int
	nextID     int
	closed     bool
	sink       func(total int, changed []Group) // synchronous, in log order (a peer's subscription)
	onClose    func()
	sig        *signal.Mutable[[]Group]
	wake       chan struct{}
	stop       chan struct{}
	done       chan struct{}
	delivering atomic.Bool
}

// member is one counted entity's contribution.
type member struct {
	head  event.Clock
	group string
	vals  []value.Value // per term
}

// Count returns a live count of the rows of collection matching q (an AnkQL
// selection; ORDER BY and LIMIT are refused), readable by the caller.
func (c *Context) Count(ctx context.Context, collection, q string, args ...any) (*LiveAggregate, error) {
	return c.Aggregate(ctx, collection, AggregateSpec{}, q, args...)
}

// Aggregate returns a live GROUP BY of the rows of collection matching q,
// readable by the caller, as spec says.
func (c *Context) Aggregate(ctx context.Context, collection string, spec AggregateSpec, q string, args ...any) (*LiveAggregate, error) {
	b, err := query.ParseBound(q, args...)
	if err != nil {
		return nil, err
	}
	return c.AggregateBound(ctx, collection, spec, b)
}

// AggregateBound is Aggregate for an already bound selection.
func (c *Context) AggregateBound(ctx context.Context, collection string, spec AggregateSpec, b *query.Bound) (*LiveAggregate, error) {
	n := c.node
	if n.isClosed.Load() {
		return nil, ErrClosed
	}
	if err := checkAggregate(collection, spec, b); err != nil {
		return nil, err
	}
	b = query.RefArguments(b, collection, &n.rels)
	if n.cfg.role == Ephemeral {
		return c.aggregateRemote(ctx, collection, spec, b)
	}
	return c.aggregateWithSink(ctx, collection, spec, b, nil)
}

func checkAggregate(collection string, spec AggregateSpec, b *query.Bound) error {
	if err := ValidateName(collection); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	if b == nil {
		return fmt.Errorf("%w: no selection", storage.ErrBadAggregate)
	}
	if len(b.OrderBy) > 0 || b.HasLimit() {
		return fmt.Errorf("%w: an aggregate's selection takes no ORDER BY or LIMIT (got %q)", storage.ErrBadAggregate, b.String())
	}
	return nil
}

func (c *Context) newAggregate(collection string, spec AggregateSpec) (*LiveAggregate, error) {
	qid, err := c.node.newULID()
	if err != nil {
		return nil, err
	}
	return &LiveAggregate{
		ctx: c, collection: collection, spec: spec, qid: qid, grouped: len(spec.GroupBy) > 0,
		groups: map[string]*groupState{}, results: map[string]Group{}, delivered: map[string]Group{},
		dirty: map[string]struct{}{}, subs: map[int]func(GroupChangeSet){},
		sig: signal.New[[]Group](nil), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// aggregateWithSink makes a live aggregate on a durable node; sink, when not
// nil, is handed the groups each commit changes (Count 0: removed), in log
// order, under the change log's lock.
func (c *Context) aggregateWithSink(ctx context.Context, collection string, spec AggregateSpec, b *query.Bound, sink func(total int, changed []Group)) (*LiveAggregate, error) {
	n := c.node
	la, err := c.newAggregate(collection, spec)
	if err != nil {
		return nil, err
	}
	la.sink = sink
	eff, err := c.effective(ctx, collection, b)
	if err != nil {
		return nil, err
	}
	// A selection that follows references (artist.name = ?) is compiled
	// as a live query's: each match reads what it references as it is now,
	// and the aggregate follows changes of the referenced entities back to
	// the rows they move (followRefs). The engine's aggregator never sees
	// it: the node counts a scan.
	prog, err := c.compileLive(ctx, collection, eff)
	if err != nil {
		return nil, err
	}
	la.eff, la.prog = eff, prog
	if lp, ok := prog.(*liveProgram); ok && lp.tr != nil {
		la.refs = aggRefDeps(collection, lp.tr)
	}
	coll, err := n.readCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	if ag, ok := coll.(storage.Aggregator); ok && la.refs == nil && n.feed == nil && c.readFilterExact(ctx, collection) {
		if ok, err := la.startPushed(ctx, ag); err != nil || ok {
			if err != nil {
				return nil, err
			}
			return la.started()
		}
	}
	la.members = map[id.EntityID]*member{}
	var states []entity.State
	err = n.readAt(ctx, func(ctx context.Context) error {
		var err error
		states, err = c.fetchEffective(ctx, collection, eff)
		return err
	}, func(s0 uint64) (bool, error) {
		if n.isClosed.Load() {
			return false, ErrClosed
		}
		if !n.refsUnchangedSince(s0, prog) {
			return false, nil // a referenced entity changed under the read: read again
		}
		states, ok := n.reconcileStates(ctx, c, collection, eff, prog, states, s0)
		if !ok {
			return false, nil
		}
		la.mu.Lock()
		for i := range states {
			la.addMember(&states[i])
		}
		la.refresh()
		la.mu.Unlock()
		n.reactor.aggs.add(la)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return la.started()
}

// startPushed reads the initial value from the engine's aggregator. It holds
// the commit lock for that read, so storage holds exactly what the change
// log published (every local write publishes before it lets go), and
// registers at that position. ok is false when the engine declines.
func (la *LiveAggregate) startPushed(ctx context.Context, ag storage.Aggregator) (bool, error) {
	n := la.ctx.node
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	if n.closed {
		return false, ErrClosed
	}
	gs, err := ag.Aggregate(ctx, la.eff, la.spec)
	if isNotPushed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ankurah: aggregate of %q: %w", la.collection, err)
	}
	n.clog.mu.Lock()
	defer n.clog.mu.Unlock()
	la.mu.Lock()
	la.pushed = ag
	for _, g := range gs {
		la.setGroup(g)
	}
	la.refresh()
	la.mu.Unlock()
	n.reactor.aggs.add(la)
	return true, nil
}

func isNotPushed(err error) bool {
	return err != nil && errors.Is(err, storage.ErrNotPushedDown)
}

func (c *Context) readFilterExact(ctx context.Context, collection string) bool {
	switch a := c.node.agent.(type) {
	case policy.Permissive, *policy.Permissive:
		return true
	case ExactReadFilter:
		return a.ReadFilterIsExact(ctx, c.cdata, collection)
	}
	return false
}

// started starts the delivery goroutine.
func (la *LiveAggregate) started() (*LiveAggregate, error) {
	la.mu.Lock()
	la.sig.Set(la.sortedResults())
	la.delivered = maps.Clone(la.results)
	clear(la.dirty)
	la.mu.Unlock()
	if !la.ctx.node.spawn(la.deliver) {
		close(la.done)
		la.Close()
		return nil, ErrClosed
	}
	return la, nil
}

// ID returns the aggregate's id.
func (la *LiveAggregate) ID() id.ULID { return la.qid }

// Collection returns the collection the aggregate watches.
func (la *LiveAggregate) Collection() string { return la.collection }

// Spec returns how the aggregate groups and aggregates.
func (la *LiveAggregate) Spec() AggregateSpec { return la.spec }

// Pushdown reports whether the storage engine computed the initial value
// (storage.Aggregator) rather than the node from a scan.
func (la *LiveAggregate) Pushdown() bool {
	la.mu.Lock()
	defer la.mu.Unlock()
	return la.pushed != nil
}

// Groups returns the current groups, ordered by key.
func (la *LiveAggregate) Groups() []Group {
	la.mu.Lock()
	defer la.mu.Unlock()
	return la.sortedResults()
}

// Count returns the number of rows in all groups.
func (la *LiveAggregate) Count() int64 {
	la.mu.Lock()
	defer la.mu.Unlock()
	var total int64
	for _, g := range la.results {
		total += g.Count
	}
	return total
}

// Err returns why the durable peer ended this aggregate's subscription (an
// ephemeral node's aggregate) or why it could not be kept current, or nil.
func (la *LiveAggregate) Err() error {
	la.mu.Lock()
	defer la.mu.Unlock()
	return la.err
}

// Signal returns the groups as a signal, set from the aggregate's delivery
// goroutine.
func (la *LiveAggregate) Signal() signal.Signal[[]Group] { return la.sig }

// Subscribe calls f with an Initial change set of the groups, then with a
// change set whenever groups change, from one goroutine per aggregate,
// until the returned function is called.
func (la *LiveAggregate) Subscribe(f func(GroupChangeSet)) (unsubscribe func()) {
	la.mu.Lock()
	if la.closed {
		la.mu.Unlock()
		return func() {}
	}
	sid := la.nextID
	la.nextID++
	la.subs[sid] = f
	la.fresh = append(la.fresh, sid)
	la.mu.Unlock()
	la.poke()
	return func() {
		la.mu.Lock()
		delete(la.subs, sid)
		la.mu.Unlock()
	}
}

// Close stops the aggregate: no more change sets, no more work. It waits
// for a running subscriber to return, unless called from one.
func (la *LiveAggregate) Close() {
	la.mu.Lock()
	if la.closed {
		la.mu.Unlock()
		return
	}
	la.closed = true
	la.subs = map[int]func(GroupChangeSet){}
	onClose := la.onClose
	la.mu.Unlock()
	n := la.ctx.node
	if onClose != nil {
		n.spawn(onClose)
	}
	n.reactor.aggs.remove(la)
	close(la.stop)
	if !la.delivering.Load() {
		<-la.done
	}
}

// String describes the aggregate for logs.
func (la *LiveAggregate) String() string {
	return fmt.Sprintf("LiveAggregate(%s on %q)", la.qid, la.collection)
}

func (la *LiveAggregate) poke() {
	select {
	case la.wake <- struct{}{}:
	default:
	}
}

// deliver hands coalesced change sets to subscribers, off every lock.
func (la *LiveAggregate) deliver() {
	defer close(la.done)
	for {
		select {
		case <-la.stop:
			return
		case <-la.wake:
		}
		la.mu.Lock()
		var cs GroupChangeSet
		keys := make([]string, 0, len(la.dirty))
		for k := range la.dirty {
			keys = append(keys, k)
		}
		clear(la.dirty)
		for _, k := range keys {
			now, in := la.results[k]
			was, had := la.delivered[k]
			switch {
			case in && !had:
				cs.Changes = append(cs.Changes, GroupChange{Kind: Add, Group: now})
				la.delivered[k] = now
			case in && had && !sameGroup(now, was):
				cs.Changes = append(cs.Changes, GroupChange{Kind: Update, Group: now})
				la.delivered[k] = now
			case !in && had:
				cs.Changes = append(cs.Changes, GroupChange{Kind: Remove, Group: was})
				delete(la.delivered, k)
			}
		}
		slices.SortFunc(cs.Changes, func(a, b GroupChange) int { return storage.CompareKeys(a.Group.Key, b.Group.Key) })
		groups := la.sortedResults()
		cs.Groups = groups
		var fs []func(GroupChangeSet)
		if len(cs.Changes) > 0 {
			for sid, f := range la.subs {
				if !slices.Contains(la.fresh, sid) {
					fs = append(fs, f)
				}
			}
		}
		var inits []func(GroupChangeSet)
		for _, sid := range la.fresh {
			if f, ok := la.subs[sid]; ok {
				inits = append(inits, f)
			}
		}
		la.fresh = nil
		la.mu.Unlock()
		la.delivering.Store(true)
		if len(cs.Changes) > 0 {
			la.sig.Set(groups)
		}
		for _, f := range fs {
			f(GroupChangeSet{Changes: slices.Clone(cs.Changes), Groups: slices.Clone(groups)})
		}
		if len(inits) > 0 {
			init := GroupChangeSet{Groups: groups}
			for _, g := range groups {
				init.Changes = append(init.Changes, GroupChange{Kind: Initial, Group: g})
			}
			for _, f := range inits {
				f(GroupChangeSet{Changes: slices.Clone(init.Changes), Groups: slices.Clone(groups)})
			}
		}
		la.delivering.Store(false)
	}
}

func sameGroup(a, b Group) bool {
	if a.Count != b.Count || len(a.Values) != len(b.Values) {
		return false
	}
	for i := range a.Values {
		if a.Values[i].Kind() != b.Values[i].Kind() || value.Compare(a.Values[i], b.Values[i]) != 0 {
			return false
		}
	}
	return true
}

// sortedResults returns the current groups ordered by key (la.mu held).
func (la *LiveAggregate) sortedResults() []Group {
	out := make([]Group, 0, len(la.results))
	for _, g := range la.results {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Group) int { return storage.CompareKeys(a.Key, b.Key) })
	return out
}

// apply accounts for one commit's changes (called by the reactor in log
// order, the log's lock held): the work follows the changes and the groups
// they touch.
func (la *LiveAggregate) apply(ctx context.Context, changes []change) {
	la.mu.Lock()
	defer la.mu.Unlock()
	if la.closed || la.remote {
		return
	}
	c := la.ctx
	touched := map[string]struct{}{}
	reread := false
	for i := range changes {
		ch := &changes[i]
		if ch.collection != la.collection {
			continue
		}
		if la.pushed == nil {
			m := la.members[ch.after.ID]
			if m != nil && m.head.Equal(ch.after.Head) && !ch.after.Deleted() {
				continue // counted already (read before it was published)
			}
			if m != nil {
				la.removeContribution(m.group, m.vals)
				touched[m.group] = struct{}{}
				delete(la.members, ch.after.ID)
			}
			if c.matches(ctx, la.prog, &ch.after) {
				touched[la.addMember(&ch.after)] = struct{}{}
			}
			continue
		}
		if ch.beforeUnknown {
			reread = true
			continue
		}
		if ch.before != nil && c.matches(ctx, la.prog, ch.before) {
			k, vals := la.contribution(ch.before.Values)
			la.removeContribution(k, vals)
			touched[k] = struct{}{}
		}
		if c.matches(ctx, la.prog, &ch.after) {
			k, vals := la.contribution(ch.after.Values)
			la.addContribution(k, la.spec.KeyOf(ch.after.Values), vals)
			touched[k] = struct{}{}
		}
	}
	if reread {
		la.rereadPushed(ctx)
		return
	}
	if la.refs != nil {
		la.followRefs(ctx, changes, touched)
	}
	if len(touched) == 0 {
		return
	}
	la.rereadStale(ctx, touched)
	la.publishTouched(touched)
}

// publishTouched brings the results of touched groups current, hands them
// to the sink (a group that lost its last row with Count 0) and wakes the
// delivery goroutine (la.mu held).
func (la *LiveAggregate) publishTouched(touched map[string]struct{}) {
	var out []Group
	for k := range touched {
		g := la.groupResult(k)
		if g.Count == 0 && la.grouped {
			delete(la.groups, k)
			prev, had := la.results[k]
			if !had {
				continue // came and went within the commit
			}
			delete(la.results, k)
			g = Group{Key: prev.Key, Values: nullValues(len(la.spec.Aggs))}
		} else {
			la.results[k] = g
		}
		la.dirty[k] = struct{}{}
		out = append(out, g)
	}
	if la.sink != nil && len(out) > 0 {
		slices.SortFunc(out, func(a, b Group) int { return storage.CompareKeys(a.Key, b.Key) })
		la.sink(len(la.results), out)
	}
	la.poke()
}

// refresh recomputes every result (la.mu held).
func (la *LiveAggregate) refresh() {
	clear(la.results)
	if !la.grouped {
		la.group(storage.GroupKey(nil), nil) // COUNT of nothing is 0, not no row
	}
	for k := range la.groups {
		g := la.groupResult(k)
		if g.Count > 0 || !la.grouped {
			la.results[k] = g
		}
	}
	for k := range la.results {
		la.dirty[k] = struct{}{}
	}
	for k := range la.delivered {
		la.dirty[k] = struct{}{}
	}
}

// rereadPushed reads every group again from the engine (a change whose
// previous state is unknown here), la.mu held.
func (la *LiveAggregate) rereadPushed(ctx context.Context) {
	gs, err := la.pushed.Aggregate(ctx, la.eff, la.spec)
	if err != nil {
		la.fail(ctx, err)
		return
	}
	touched := map[string]struct{}{}
	for k := range la.groups {
		touched[k] = struct{}{}
	}
	clear(la.groups)
	for _, g := range gs {
		touched[la.setGroup(g)] = struct{}{}
	}
	la.publishTouched(touched)
}

// rereadStale re-reads from the engine the touched groups whose min or max
// left with a change (pushdown mode; la.mu held). Storage holds this
// commit's writes: the commit lock is held by whoever publishes it.
func (la *LiveAggregate) rereadStale(ctx context.Context, touched map[string]struct{}) {
	if la.pushed == nil {
		return
	}
	for k := range touched {
		gs := la.groups[k]
		if gs == nil || !slices.ContainsFunc(gs.terms, func(t termState) bool { return t.stale }) {
			continue
		}
		terms := []query.Expr{la.eff.Where}
		for i, p := range la.spec.GroupBy {
			if gs.key[i].IsNull() {
				terms = append(terms, &query.IsNull{Path: query.Path{p}})
			} else {
				terms = append(terms, &query.Comparison{Path: query.Path{p}, Op: query.Eq, Value: query.Lit(gs.key[i])})
			}
		}
		res, err := la.pushed.Aggregate(ctx, &query.Bound{Where: &query.And{Terms: terms}, Limit: -1}, la.spec)
		if err != nil {
			la.fail(ctx, err)
			return
		}
		delete(la.groups, k)
		for _, g := range res {
			la.setGroup(g)
		}
	}
}

func (la *LiveAggregate) fail(ctx context.Context, err error) {
	la.err = fmt.Errorf("ankurah: aggregate of %q: %w", la.collection, err)
	la.ctx.node.log.ErrorContext(ctx, "live aggregate re-read failed", "aggregate", la.qid.String(), "err", err)
}

// contribution is a row's group key and its value of each term.
func (la *LiveAggregate) contribution(values value.Fields) (string, []value.Value) {
	vals := make([]value.Value, len(la.spec.Aggs))
	for i, a := range la.spec.Aggs {
		vals[i] = values.Get(a.Property)
	}
	return storage.GroupKey(la.spec.KeyOf(values)), vals
}

// addMember counts an entity (members mode) and returns its group key.
func (la *LiveAggregate) addMember(st *entity.State) string {
	k, vals := la.contribution(st.Values)
	la.addContribution(k, la.spec.KeyOf(st.Values), vals)
	la.members[st.ID] = &member{head: st.Head, group: k, vals: vals}
	return k
}

func (la *LiveAggregate) group(k string, key []value.Value) *groupState {
	g := la.groups[k]
	if g == nil {
		g = &groupState{key: key, terms: make([]termState, len(la.spec.Aggs))}
		la.groups[k] = g
	}
	return g
}

func (la *LiveAggregate) addContribution(k string, key []value.Value, vals []value.Value) {
	g := la.group(k, key)
	g.count++
	for i, a := range la.spec.Aggs {
		g.terms[i].add(a.Op, vals[i], la.pushed == nil)
	}
}

func (la *LiveAggregate) removeContribution(k string, vals []value.Value) {
	g := la.groups[k]
	if g == nil {
		return
	}
	g.count--
	for i, a := range la.spec.Aggs {
		g.terms[i].remove(a.Op, vals[i], la.pushed == nil)
	}
	if g.count <= 0 && la.grouped {
		delete(la.groups, k)
	}
}

// setGroup installs a group as an engine computed it (pushdown mode).
func (la *LiveAggregate) setGroup(r storage.GroupResult) string {
	k := storage.GroupKey(r.Key)
	g := &groupState{key: r.Key, count: r.Count, terms: make([]termState, len(la.spec.Aggs))}
	for i := range g.terms {
		if i >= len(r.Accs) {
			break
		}
		a := r.Accs[i]
		g.terms[i] = termState{n: a.N, sum: a.Sum, posInf: a.PosInf, negInf: a.NegInf, ext: a.Value}
	}
	la.groups[k] = g
	return k
}

// groupResult is a group's current value (count 0 when it has no row).
func (la *LiveAggregate) groupResult(k string) Group {
	g := la.groups[k]
	if g == nil {
		return Group{Key: []value.Value{}, Values: nullValues(len(la.spec.Aggs))}
	}
	out := Group{Key: g.key, Count: g.count, Values: make([]value.Value, len(la.spec.Aggs))}
	if out.Key == nil {
		out.Key = []value.Value{}
	}
	for i, a := range la.spec.Aggs {
		out.Values[i] = g.terms[i].result(a.Op)
	}
	return out
}

// aggRefDeps returns a traversal's terms at each hop, as the reactor's
// reverse index holds a live query's (reactor_refs.go), for an aggregate
// of collection.
func aggRefDeps(collection string, tr *query.Traversed) []*refDep {
	var deps []*refDep
	for _, t := range tr.Terms {
		yes, err1 := query.Compile(&query.Bound{Where: t.Leaf, Limit: -1}, nil)
		no, err2 := query.Compile(&query.Bound{Where: &query.Not{X: t.Leaf}, Limit: -1}, nil)
		if err1 != nil || err2 != nil {
			continue // cannot happen: the selection compiled the same terms
		}
		for k := range t.Hops {
			deps = append(deps, &refDep{root: collection, tr: t, level: k, yes: yes, no: no})
		}
	}
	return deps
}

// watched returns the collections whose changes can change the aggregate:
// its own, and those its selection's references lead to.
func (la *LiveAggregate) watched() []string {
	out := []string{la.collection}
	for _, d := range la.refs {
		if c := d.tr.Hops[d.level].Target; !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// followRefs re-counts the rows a commit's changes of referenced entities
// can move in or out of the selection (members mode, la.mu held): for each
// traversal term whose truth the change flips for the entities referring
// to the changed one (or whose readability for the caller it changes),
// those rows are looked up hop by hop back and evaluated again.
func (la *LiveAggregate) followRefs(ctx context.Context, changes []change, touched map[string]struct{}) {
	c := la.ctx
	rd := c.newRefReader(ctx, true)
	roots := map[id.EntityID]entity.State{}
	for i := range changes {
		ch := &changes[i]
		for _, d := range la.refs {
			if d.tr.Hops[d.level].Target != ch.collection || !d.flips(ch, rd) {
				continue
			}
			states, err := d.referrers(ctx, c, ch.after.ID)
			if err != nil {
				la.fail(ctx, fmt.Errorf("finding the rows that refer to %s: %w", ch.after.ID, err))
				continue
			}
			for _, st := range states {
				roots[st.ID] = st
			}
		}
	}
	for eid, st := range roots {
		if m := la.members[eid]; m != nil {
			la.removeContribution(m.group, m.vals)
			touched[m.group] = struct{}{}
			delete(la.members, eid)
		}
		if c.matches(ctx, la.prog, &st) {
			touched[la.addMember(&st)] = struct{}{}
		}
	}
}
