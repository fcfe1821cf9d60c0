package core

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/signal"
)

// ChangeKind says how an entity's membership in a live query changed.
type ChangeKind int

const (
	// Initial: the entity was in the result set when the subscriber subscribed.
	Initial ChangeKind = iota
	// Add: the entity entered the result set.
	Add
	// Update: the entity stayed in the result set and changed.
	Update
	// Remove: the entity left the result set (no longer matches, was deleted,
	// or was pushed out of a LIMIT).
	Remove
)

var changeKindNames = [...]string{"Initial", "Add", "Update", "Remove"}

// String names the kind.
func (k ChangeKind) String() string { return changeKindNames[k] }

// Change is one entity's change in a ChangeSet.
type Change struct {
	Kind   ChangeKind
	Entity *View
}

// ChangeSet is what a live query reports for one commit (or for a
// subscription's start, all Initial): the changes, and the result set after them.
type ChangeSet struct {
	Changes []Change
	// Items is the result set after the changes, in the query's order: a
	// copy made for this ChangeSet, which later commits leave as it is. It
	// is shared by the live query's subscribers and its Signal, so read it
	// and do not write into it.
	Items []*View
	// IncludeChanges are the changes of the entities the live query's
	// includes hold (Include, IncludeReverse): those its row changes
	// brought or dropped and those of included entities in the same
	// commit. A ChangeSet may carry IncludeChanges and no Changes (an
	// included entity changed, no row did).
	IncludeChanges []IncludeChange
	// Included is every include's entities after the changes, by include
	// name, each by id (nil without includes).
	Included map[string][]*View
	// paths are changed entities that flipped a traversal term of the
	// live query, for a peer's subscription (sendPaths); only a sink gets
	// them.
	paths []*change
}

// LiveQuery is a query that stays current: its result set is kept up to date
// as commits land, and subscribers get one ChangeSet per commit that touches
// it, in the order commits were stored.
type LiveQuery struct {
	ctx        *Context
	collection string
	qid        id.ULID

	mu       sync.Mutex
	bound    *query.Bound
	eff      *query.Bound
	prog     query.Program
	items    []*View
	byID     map[id.EntityID]*View
	itemsSig *signal.Mutable[[]*View]
	subs     map[int]func(ChangeSet)
	nextID   int
	closed   bool
	// sink receives ChangeSets synchronously, in commit order (the
	// durable side of a subscription); onClose runs when the query closes.
	sink      func(ChangeSet)
	onClose   func()
	remoteSub uint64
	remoteErr error // why the durable peer ended the subscription
	// share is the key under which LIMITed live queries of one caller
	// (Context) and one effective selection share the work of each commit
	// ("" for queries that do not share); capture and captured hold the
	// ChangeSet a leader published (reactor.go).
	share    string
	capture  bool
	captured *ChangeSet
	window   atomic.Pointer[window] // set by snapWindow
	// owner is the group a hidden live query settles commits for; grp the
	// group a member reads through, listening whether it follows each
	// commit itself, heard whether anything ever listened (lqgroup.go).
	owner     *lqGroup
	grp       *lqGroup
	listening bool
	heard     bool
	// signalSet: itemsSig was given the result when first heard (listen).
	signalSet bool
	// incSpecs are the live query's includes, incs what they hold, and
	// incPending the commit's changes of included entities not applied yet
	// (include.go).
	incSpecs   []includeSpec
	incs       []*includeSet
	incPending []*change

	qmu        sync.Mutex
	qcond      *sync.Cond
	queue      []delivery
	busy       bool // the delivery goroutine holds a delivery (guarded by qmu)
	stopped    atomic.Bool
	delivering atomic.Bool // a subscriber callback is running
	done       chan struct{}
}

type delivery struct {
	// cs is delivered to targets; cs.Items (when cs has changes) also
	// becomes the value of the live query's signal, set from the delivery
	// goroutine so signal subscribers never run under a lock of the node.
	cs ChangeSet
	// targets are the subscribers the ChangeSet is for: those subscribed
	// when it was made (a later subscriber's Initial already includes it).
	targets []int
	signal  bool
	queued  deliveryStamp // when it was queued, for Metrics.Delivered (metrics.go)
}

// Query returns a live query over collection, with ? placeholders bound to
// args. Its result set is filled before Query returns.
//
// Query options among args are not bound to placeholders: Include and
// IncludeReverse ask for related entities with the rows, After starts the
// result after a pagination cursor (a live page, docs/pagination.md).
func (c *Context) Query(ctx context.Context, collection, q string, args ...any) (*LiveQuery, error) {
	args, opts := splitOptions(args)
	sel, err := query.Parse(q)
	if err != nil {
		return nil, err
	}
	b, err := sel.Bind(args...)
	if err != nil {
		return nil, err
	}
	return c.QueryBound(ctx, collection, b, opts...)
}

// QueryBound is Query for an already bound selection.
func (c *Context) QueryBound(ctx context.Context, collection string, b *query.Bound, opts ...QueryOption) (*LiveQuery, error) {
	if c.node.isClosed.Load() {
		return nil, ErrClosed
	}
	b, err := withAfter(b, opts)
	if err != nil {
		return nil, err
	}
	if err := checkAfter(b); err != nil {
		return nil, err
	}
	incs, err := c.node.resolveIncludes(collection, opts)
	if err != nil {
		return nil, err
	}
	b = query.RefArguments(b, collection, &c.node.rels)
	return c.node.role.query(ctx, c, collection, b, incs)
}

// queryWithSink makes a live query whose initial states and ChangeSets are
// also handed to sinks synchronously, in log order, under the change log's lock.
func (c *Context) queryWithSink(ctx context.Context, collection string, b *query.Bound, incs []includeSpec, initSink func([]entity.State), sink func(ChangeSet)) (*LiveQuery, error) {
	n := c.node
	qid, err := n.newULID()
	if err != nil {
		return nil, err
	}
	lq := &LiveQuery{ctx: c, collection: collection, qid: qid, byID: map[id.EntityID]*View{}, subs: map[int]func(ChangeSet){}, done: make(chan struct{}), sink: sink, incSpecs: incs}
	lq.qcond = sync.NewCond(&lq.qmu)
	lq.itemsSig = signal.New[[]*View](nil)
	sel, err := lq.prepare(ctx, c, b)
	if err != nil {
		return nil, err
	}
	// The result is read off every lock and registered at the log position
	// it was reconciled to (changelog.go).
	err = n.readAt(ctx, sel.read, func(s0 uint64) (bool, error) {
		if n.isClosed.Load() {
			return false, ErrClosed
		}
		states, ok := sel.reconciled(s0)
		if !ok {
			return false, nil
		}
		lq.mu.Lock()
		lq.bound, lq.eff, lq.prog, lq.share = sel.bound, sel.eff, sel.prog, lq.shareKey(sel.eff)
		lq.setItems(states)
		lq.initIncludes(ctx)
		lq.mu.Unlock()
		if initSink != nil {
			// With the states its includes hold: the durable side sends
			// both in the subscription's answer.
			initSink(append(slices.Clip(states), lq.includedStates()...))
		}
		n.reactor.place(lq)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if !n.spawn(lq.deliver) {
		close(lq.done)
		lq.Close()
		return nil, ErrClosed
	}
	return lq, nil
}

// selection is a live query's selection compiled for a caller, with its
// result as read from storage (by read) before it is installed.
type selection struct {
	n      *Node
	ctx    context.Context
	c      *Context
	coll   string
	bound  *query.Bound
	eff    *query.Bound
	prog   query.Program
	states []entity.State
}

// prepare compiles a selection of the live query for caller c (without
// installing it).
func (lq *LiveQuery) prepare(ctx context.Context, c *Context, b *query.Bound) (*selection, error) {
	eff, err := c.effective(ctx, lq.collection, b)
	if err != nil {
		return nil, err
	}
	prog, err := c.compileLive(ctx, lq.collection, eff)
	if err != nil {
		return nil, err
	}
	return &selection{n: c.node, ctx: ctx, c: c, coll: lq.collection, bound: b, eff: eff, prog: prog}, nil
}

// read reads the selection's result from storage (under ctx, the
// selection's own context or one derived from it).
func (s *selection) read(ctx context.Context) error {
	var err error
	s.states, err = s.c.fetchEffective(ctx, s.coll, s.eff)
	return err
}

// reconciled is the result brought up to the log's current position from
// s0, where it was read (the log's lock held).
func (s *selection) reconciled(s0 uint64) ([]entity.State, bool) {
	if !s.n.refsUnchangedSince(s0, s.prog) {
		return nil, false // a referenced entity changed: read again
	}
	return s.n.reconcileStates(s.ctx, s.c, s.coll, s.eff, s.prog, s.states, s0)
}

// install re-points the live query at a prepared selection (for caller c)
// and publishes the difference as one ChangeSet; then runs, still at the
// same log position, if not nil (the log's lock held). ok is false when the
// selection must be read again.
func (lq *LiveQuery) install(sel *selection, s0 uint64, then func()) (bool, error) {
	lq.mu.Lock()
	closed := lq.closed
	lq.mu.Unlock()
	if closed {
		return false, ErrClosed
	}
	states, ok := sel.reconciled(s0)
	if !ok {
		return false, nil
	}
	n := lq.ctx.node
	hidden := lq.owner != nil
	if !hidden {
		lq.leaveGroup()
	}
	n.reactor.remove(lq)
	lq.mu.Lock()
	lq.ctx, lq.bound, lq.eff, lq.prog, lq.share = sel.c, sel.bound, sel.eff, sel.prog, lq.shareKey(sel.eff)
	lq.diffAndPublishAll(sel.ctx, states, nil, true)
	lq.mu.Unlock()
	if hidden {
		n.reactor.add(lq)
	} else {
		n.reactor.place(lq)
	}
	if then != nil {
		then()
	}
	n.reactor.flush()
	return true, nil
}

// ID returns the live query's id.
func (lq *LiveQuery) ID() id.ULID { return lq.qid }

// Collection returns the collection the live query watches.
func (lq *LiveQuery) Collection() string { return lq.collection }

// Selection returns the live query's current (bound) selection.
func (lq *LiveQuery) Selection() *query.Bound {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	return lq.bound
}

// Items returns the current result set, in the query's order.
func (lq *LiveQuery) Items() []*View {
	var out []*View
	lq.current(func(items []*View, _ map[id.EntityID]*View) { out = slices.Clone(items) })
	return out
}

// holds reports whether the entity is in the result set.
func (lq *LiveQuery) holds(eid id.EntityID) bool {
	var ok bool
	lq.current(func(_ []*View, byID map[id.EntityID]*View) { _, ok = byID[eid] })
	return ok
}

// Err returns why the durable peer ended this live query's subscription
// (an ephemeral node's live query), or nil while it follows the peer.
func (lq *LiveQuery) Err() error {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	return lq.remoteErr
}

// Signal returns the result set as a signal.
func (lq *LiveQuery) Signal() signal.Signal[[]*View] {
	lq.listen()
	return lq.itemsSig
}

// Subscribe calls f with an Initial ChangeSet of the current result set, then
// with one ChangeSet per commit that changes it, in commit order, from one
// goroutine per live query, until the returned function is called.
func (lq *LiveQuery) Subscribe(f func(ChangeSet)) (unsubscribe func()) {
	lq.listen()
	lq.mu.Lock()
	if lq.closed {
		lq.mu.Unlock()
		return func() {}
	}
	sid := lq.nextID
	lq.nextID++
	lq.subs[sid] = f
	init := ChangeSet{Items: slices.Clone(lq.items)}
	for _, v := range lq.items {
		init.Changes = append(init.Changes, Change{Kind: Initial, Entity: v})
	}
	for _, s := range lq.incs {
		for _, v := range s.views() {
			init.IncludeChanges = append(init.IncludeChanges, IncludeChange{Name: s.spec.Name, Kind: Initial, Entity: v})
		}
	}
	init.Included = lq.includedSnapshot()
	lq.enqueue(delivery{cs: init, targets: []int{sid}})
	lq.mu.Unlock()
	return func() {
		lq.mu.Lock()
		delete(lq.subs, sid)
		lq.mu.Unlock()
	}
}

// Close stops the live query: no more notifications, no more work. No
// subscriber callback starts after Close returns. When none is running, Close
// also waits for the query's delivery goroutine to end; when one is running
// — it may be the caller, as a callback may close its own query — Close
// returns at once and that last callback finishes on its own goroutine.
func (lq *LiveQuery) Close() {
	lq.mu.Lock()
	if lq.closed {
		lq.mu.Unlock()
		return
	}
	lq.closed = true
	if lq.onClose != nil {
		lq.ctx.node.spawn(lq.onClose) // refused once the node closes: nothing to tell upstream then
	}
	lq.subs = map[int]func(ChangeSet){}
	node := lq.ctx.node
	lq.dropIncludes()
	lq.incPending = nil
	lq.mu.Unlock()
	node.reactor.remove(lq)
	lq.leaveGroup()
	lq.qmu.Lock()
	lq.stopped.Store(true)
	lq.queue = nil
	lq.qcond.Broadcast()
	lq.qmu.Unlock()
	if !lq.delivering.Load() { // Close from inside a callback must not wait for itself
		<-lq.done
	}
}

// UpdateSelection re-points the live query at a new query (for pagination by
// cursor predicate, say) and reports the difference as one ChangeSet: Add
// for entities that entered, Remove for those that left.
//
// Among args, After starts the new selection after a cursor (a live page
// moving to the next page: After(lq.Next())); other options are ignored
// (the live query keeps its includes).
func (lq *LiveQuery) UpdateSelection(ctx context.Context, q string, args ...any) error {
	args, opts := splitOptions(args)
	sel, err := query.Parse(q)
	if err != nil {
		return err
	}
	b, err := sel.Bind(args...)
	if err != nil {
		return err
	}
	if b, err = withAfter(b, opts); err != nil {
		return err
	}
	n := lq.ctx.node
	lq.mu.Lock()
	closed := lq.closed
	lq.mu.Unlock()
	if closed {
		return ErrClosed
	}
	lq.mu.Lock()
	c := lq.ctx
	lq.mu.Unlock()
	if lq.remoteSub != 0 {
		if p := n.upstreamPeer(); p != nil {
			// The cached rows the new selection matches are known to the
			// durable peer, so those it neither sends nor confirms (changed
			// or deleted while not followed) are refreshed before the
			// result is computed here.
			known := c.localRows(ctx, lq.collection, b)
			if err := n.subscribeRemote(ctx, p, lq.remoteSub, lq.collection, b, lq.incSpecs, known); err != nil && !isDisconnect(err) {
				return err
			}
		}
	}
	ps, err := lq.prepare(ctx, c, b)
	if err != nil {
		return err
	}
	return n.readAt(ctx, ps.read, func(s0 uint64) (bool, error) { return lq.install(ps, s0, nil) })
}

// reauthorize re-runs the live query for a caller whose identity changed
// (refreshed credentials) and reports the difference; then runs at the same
// log position, if not nil.
func (lq *LiveQuery) reauthorize(ctx context.Context, c *Context, then func()) error {
	lq.mu.Lock()
	closed, b := lq.closed, lq.bound
	lq.mu.Unlock()
	if closed {
		return ErrClosed
	}
	sel, err := lq.prepare(ctx, c, b)
	if err != nil {
		return err
	}
	return c.node.readAt(ctx, sel.read, func(s0 uint64) (bool, error) { return lq.install(sel, s0, then) })
}

// setItems replaces the result set (lq.mu held).
func (lq *LiveQuery) setItems(states []entity.State) {
	lq.items = make([]*View, len(states))
	lq.byID = make(map[id.EntityID]*View, len(states))
	for i, s := range states {
		v := newView(s)
		lq.items[i] = v
		lq.byID[s.ID] = v
	}
	// apply keeps the result in the query's order by binary search: hold
	// it to that order from the start (an engine's order of ties or of
	// mixed kinds may differ).
	if lq.eff != nil && !slices.IsSortedFunc(lq.items, lq.cmpViews) {
		slices.SortStableFunc(lq.items, lq.cmpViews)
	}
	lq.snapWindow()
}

// cmpViews orders two rows as the query does (lq.mu held).
func (lq *LiveQuery) cmpViews(a, b *View) int {
	return query.CompareRows(lq.eff.OrderBy, a.state.Values, a.state.ID, b.state.Values, b.state.ID)
}

// insertSorted places a row in the result (lq.mu held).
func (lq *LiveQuery) insertSorted(v *View) {
	i, _ := slices.BinarySearchFunc(lq.items, v, lq.cmpViews)
	lq.items = slices.Insert(lq.items, i, v)
}

// fitsAt reports whether row v sorts between the neighbours of position i
// of the result, so that it can take that place (lq.mu held).
func (lq *LiveQuery) fitsAt(i int, v *View) bool {
	return (i == 0 || lq.cmpViews(lq.items[i-1], v) < 0) &&
		(i == len(lq.items)-1 || lq.cmpViews(v, lq.items[i+1]) < 0)
}

// indexOf finds a row of the result (lq.mu held).
func (lq *LiveQuery) indexOf(v *View) int {
	if i, ok := slices.BinarySearchFunc(lq.items, v, lq.cmpViews); ok && lq.items[i].state.ID == v.state.ID {
		return i
	}
	return slices.IndexFunc(lq.items, func(x *View) bool { return x.state.ID == v.state.ID })
}

// window is a full LIMITed result as the reactor sees it without the live
// query's lock: its members and its last row. A change of an entity that is
// not a member and sorts after the last row cannot enter the window, so the
// reactor does not hand it to the query at all. (A LIMITed query's maps are
// replaced, never changed in place, so the snapshot stays valid.)
type window struct {
	byID  map[id.EntityID]*View
	last  *entity.State
	order []query.Order
	after *query.Cursor // the cursor the window starts after (nil: none)
}

// outside reports whether a change cannot touch the window: it is not a
// member and sorts after the last row, or at or behind the cursor.
func (w *window) outside(st *entity.State) bool {
	if _, member := w.byID[st.ID]; member {
		return false
	}
	if w.after != nil && !w.after.Before(w.order, st.Values, st.ID) {
		return true
	}
	return query.CompareRows(w.order, st.Values, st.ID, w.last.Values, w.last.ID) > 0
}

// snapWindow publishes the window of a full LIMITed result (lq.mu held).
func (lq *LiveQuery) snapWindow() {
	if lq.eff == nil || !lq.eff.HasLimit() {
		lq.window.Store(nil)
		return
	}
	// The reactor moves the query to or within its bound index before the
	// next commit is matched (reactor_bounded.go).
	if lq.eff.Limit <= 0 || int64(len(lq.items)) < lq.eff.Limit {
		if lq.window.Swap(nil) != nil {
			lq.ctx.node.reactor.bdirty.mark(lq)
		}
		return
	}
	lq.window.Store(&window{byID: lq.byID, last: &lq.items[len(lq.items)-1].state, order: lq.eff.OrderBy, after: lq.eff.After})
	lq.ctx.node.reactor.bdirty.mark(lq)
}

// diffAndPublish replaces the result set with states and publishes the
// difference: entities that stayed with another head are Updates; one in
// touched that left is reported as it is now (lq.mu held).
func (lq *LiveQuery) diffAndPublish(ctx context.Context, states []entity.State, touched map[id.EntityID]*entity.State) {
	lq.diffAndPublishAll(ctx, states, touched, false)
}

// diffAndPublishAll is diffAndPublish; with rebuild (the caller or the
// selection changed) the includes are read again for every row.
func (lq *LiveQuery) diffAndPublishAll(ctx context.Context, states []entity.State, touched map[id.EntityID]*entity.State, rebuild bool) {
	old := lq.byID
	var cs ChangeSet
	next := map[id.EntityID]bool{}
	for _, s := range states {
		next[s.ID] = true
		prev, ok := old[s.ID]
		switch {
		case !ok:
			cs.Changes = append(cs.Changes, Change{Kind: Add, Entity: newView(s)})
		case !prev.state.Head.Equal(s.Head):
			// Changed (in the commit, or — for a result read anew — since
			// the live query last saw it, which the log will not report again).
			cs.Changes = append(cs.Changes, Change{Kind: Update, Entity: newView(s)})
		}
	}
	for _, v := range lq.items {
		if !next[v.state.ID] {
			if after := touched[v.state.ID]; after != nil {
				v = newView(*after) // it left because it changed: report it as it is now
			}
			cs.Changes = append(cs.Changes, Change{Kind: Remove, Entity: v})
		}
	}
	lq.setItems(states)
	if rebuild {
		cs.IncludeChanges = lq.rebuildIncludes(ctx)
		cs.Included = lq.includedSnapshot()
	} else {
		lq.finishIncludes(ctx, &cs)
	}
	if len(cs.Changes) > 0 || len(cs.IncludeChanges) > 0 {
		lq.publish(cs)
	}
}

// apply updates the result set for the changes of one commit and publishes
// one ChangeSet (called by the reactor in log order, the log's lock held).
func (lq *LiveQuery) apply(ctx context.Context, changes []change) {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if lq.closed {
		return
	}
	matches := func(st *entity.State) bool { return lq.ctx.matches(ctx, lq.prog, st) }
	// A change whose state the result already holds (a reader saw it in
	// storage before it was published) is no change. (An evicted entity
	// keeps its head but is deleted: that is a change.)
	// (changes is every live query's: a copy drops what is no change here.)
	isChange := func(ch *change) bool {
		v, ok := lq.byID[ch.after.ID]
		return !ok || !v.state.Head.Equal(ch.after.Head) || ch.after.Deleted()
	}
	n := 0
	for i := range changes {
		if isChange(&changes[i]) {
			n++
		}
	}
	if n == 0 {
		return
	}
	if n < len(changes) {
		fresh := make([]change, 0, n)
		for i := range changes {
			if isChange(&changes[i]) {
				fresh = append(fresh, changes[i])
			}
		}
		changes = fresh
	}
	if lq.eff.HasLimit() {
		lq.applyLimited(ctx, changes, matches)
		return
	}
	var cs ChangeSet
	if len(changes) >= bulkRows {
		lq.applyBulk(changes, matches, &cs)
	} else {
		for i := range changes {
			ch := &changes[i]
			_, was := lq.byID[ch.after.ID]
			now := matches(&ch.after)
			// The result stays in order: a row is found and placed by
			// binary search, so a commit costs O(log n) comparisons, not a
			// sort.
			at := -1
			if was {
				at = lq.indexOf(lq.byID[ch.after.ID])
			}
			switch {
			case !was && now:
				v := newView(ch.after)
				lq.byID[ch.after.ID] = v
				lq.insertSorted(v)
				cs.Changes = append(cs.Changes, Change{Kind: Add, Entity: v})
			case was && now:
				v := newView(ch.after)
				lq.byID[ch.after.ID] = v
				// A row whose change keeps its place (an edit of a property
				// the query does not sort by) is replaced where it is.
				if at >= 0 && lq.fitsAt(at, v) {
					lq.items[at] = v
				} else {
					if at >= 0 {
						lq.items = slices.Delete(lq.items, at, at+1)
					}
					lq.insertSorted(v)
				}
				cs.Changes = append(cs.Changes, Change{Kind: Update, Entity: v})
			case was && !now:
				if at >= 0 {
					lq.items = slices.Delete(lq.items, at, at+1)
				}
				delete(lq.byID, ch.after.ID)
				cs.Changes = append(cs.Changes, Change{Kind: Remove, Entity: newView(ch.after)})
			}
		}
	}
	lq.finishIncludes(ctx, &cs)
	if len(cs.Changes) == 0 && len(cs.IncludeChanges) == 0 {
		return
	}
	lq.publish(cs)
}

// bulkRows is the number of changes from which apply settles the result in
// one pass (applyBulk) instead of row by row: placing k rows one at a time
// into n moves O(k·n) pointers, which a large batch (a catch-up, a bulk
// commit) turns into seconds.
const bulkRows = 32

// applyBulk is apply's row loop for many changes (lq.mu held): the same
// ChangeSet and the same result, in O(n + k log n). Rows that leave or
// change are dropped in one pass; the rows that enter are sorted and merged
// in, appended when they all sort after the last row (a catch-up arriving
// in the query's order).
func (lq *LiveQuery) applyBulk(changes []change, matches func(*entity.State) bool, cs *ChangeSet) {
	var leaving map[id.EntityID]struct{}
	entering := make([]*View, 0, len(changes))
	for i := range changes {
		ch := &changes[i]
		_, was := lq.byID[ch.after.ID]
		now := matches(&ch.after)
		if was {
			if leaving == nil {
				leaving = map[id.EntityID]struct{}{}
			}
			leaving[ch.after.ID] = struct{}{}
		}
		switch {
		case now:
			v := newView(ch.after)
			lq.byID[ch.after.ID] = v
			entering = append(entering, v)
			kind := Add
			if was {
				kind = Update
			}
			cs.Changes = append(cs.Changes, Change{Kind: kind, Entity: v})
		case was:
			delete(lq.byID, ch.after.ID)
			cs.Changes = append(cs.Changes, Change{Kind: Remove, Entity: newView(ch.after)})
		}
	}
	if len(leaving) > 0 {
		lq.items = slices.DeleteFunc(lq.items, func(v *View) bool {
			_, gone := leaving[v.state.ID]
			return gone
		})
	}
	// An entity changed twice in the batch enters once, as its last view.
	entering = slices.DeleteFunc(entering, func(v *View) bool { return lq.byID[v.state.ID] != v })
	if len(entering) == 0 {
		return
	}
	if !slices.IsSortedFunc(entering, lq.cmpViews) {
		slices.SortFunc(entering, lq.cmpViews)
	}
	items := lq.items
	if len(items) == 0 || lq.cmpViews(items[len(items)-1], entering[0]) < 0 {
		lq.items = append(items, entering...)
		return
	}
	// Each entering row sorts after the one before it: its place is found
	// by galloping from there (O(log gap) comparisons), then binary search.
	merged := make([]*View, 0, len(items)+len(entering))
	at := 0
	for _, v := range entering {
		lo, hi := at, at // items[at:lo] sort before v; items[hi] (if any) does not
		for step := 1; hi < len(items) && lq.cmpViews(items[hi], v) < 0; step *= 2 {
			lo, hi = hi+1, hi+step
		}
		j, _ := slices.BinarySearchFunc(items[lo:min(hi, len(items))], v, lq.cmpViews)
		merged = append(merged, items[at:lo+j]...)
		merged = append(merged, v)
		at = lo + j
	}
	lq.items = append(merged, items[at:]...)
}

// applyLimited is apply for a LIMITed query (lq.mu held). Most changes are
// settled in place: entities that enter sort into the window (pushing rows
// out of a full one), ones that change move within it, and a window that is
// not full holds every match. Rows outside a full window all sort after its
// last row as it was; so the query is fetched again only when, after the
// changes, a full window has a gap, or holds a row that sorts after that
// boundary (a row from storage might belong before it).
func (lq *LiveQuery) applyLimited(ctx context.Context, changes []change, matches func(*entity.State) bool) {
	n := lq.ctx.node
	limit := int(lq.eff.Limit)
	order := lq.eff.OrderBy
	cmp := func(a, b *entity.State) int { return query.CompareRows(order, a.Values, a.ID, b.Values, b.ID) }
	full := len(lq.items) >= limit && limit > 0
	var boundary entity.State
	if full {
		boundary = lq.items[len(lq.items)-1].state
		// The common case first: nothing leaves or changes in the window
		// and nothing enters it.
		settled := true
		for i := range changes {
			ch := &changes[i]
			if _, was := lq.byID[ch.after.ID]; was || matches(&ch.after) && cmp(&ch.after, &boundary) < 0 {
				settled = false
				break
			}
		}
		if settled {
			return
		}
	}
	items := make([]*entity.State, len(lq.items))
	for i, v := range lq.items {
		items[i] = &v.state
	}
	touched := map[id.EntityID]*entity.State{}
	relevant := false
	for i := range changes {
		ch := &changes[i]
		touched[ch.after.ID] = &ch.after
		_, was := lq.byID[ch.after.ID]
		now := matches(&ch.after)
		if !was && !now {
			continue
		}
		relevant = true
		if was {
			items = slices.DeleteFunc(items, func(s *entity.State) bool { return s.ID == ch.after.ID })
		}
		if now {
			pos, _ := slices.BinarySearchFunc(items, &ch.after, cmp)
			items = slices.Insert(items, pos, &ch.after)
		}
	}
	if !relevant {
		return
	}
	if len(items) > limit {
		items = items[:limit]
	}
	refill := full && len(items) < limit
	if full && !refill {
		for _, s := range items {
			if cmp(s, &boundary) > 0 {
				refill = true
				break
			}
		}
	}
	if refill {
		states, err := lq.ctx.fetchEffective(ctx, lq.collection, lq.eff)
		if err != nil {
			n.log.ErrorContext(ctx, "live query refill failed", "query", lq.qid.String(), "err", err)
			return
		}
		before := lq.byID
		lq.diffAndPublish(ctx, states, touched)
		if n.cfg.role == Ephemeral {
			lq.refreshPulled(states, before, touched)
		}
		return
	}
	states := make([]entity.State, len(items))
	for i, s := range items {
		states[i] = *s
	}
	lq.diffAndPublish(ctx, states, touched)
}

// refreshPulled asks the durable peer for the rows a client's LIMITed live
// query took from the cache to refill its window (lq.mu held): cached
// entities no subscription follows may be stale, and the peer's window did
// not send them. Their current states, once stored, settle the window as
// the peer has it. In a goroutine of the node's: the caller may be the
// connection's reader, which must go on to read the answer.
func (lq *LiveQuery) refreshPulled(states []entity.State, before map[id.EntityID]*View, touched map[id.EntityID]*entity.State) {
	var pulled []id.EntityID
	for i := range states {
		if before[states[i].ID] == nil && touched[states[i].ID] == nil {
			pulled = append(pulled, states[i].ID)
		}
	}
	if len(pulled) == 0 {
		return
	}
	n, coll := lq.ctx.node, lq.collection
	n.spawn(func() {
		p := n.upstreamPeer()
		if p == nil {
			return // the next connection re-subscribes with these rows as known
		}
		if err := n.getOrEvict(context.Background(), p, coll, pulled); err != nil && !isDisconnect(err) {
			n.log.Warn("refreshing rows a live query took from the cache failed", "query", lq.qid.String(), "err", err)
		}
	})
}

// publish hands a ChangeSet to the sink now and to subscribers in order
// (lq.mu held). It fills in the ChangeSet's Items, the result after it, only
// for a live query something listens to (Subscribe, Signal): the sink of a
// durable peer's subscription, a group's hidden query and a query nobody
// subscribed to need no copy of the result per commit, which for a result of
// n rows is O(n) a commit.
func (lq *LiveQuery) publish(cs ChangeSet) {
	if lq.sink != nil {
		lq.sink(cs)
	}
	if lq.capture {
		c := cs
		lq.captured = &c
	}
	if lq.owner != nil {
		lq.owner.fanOut(cs)
		return
	}
	if !lq.heard {
		// Nothing listens, so nothing is queued: the items signal takes the
		// result when something first does (listen).
		return
	}
	cs.Items = slices.Clone(lq.items)
	ids := make([]int, 0, len(lq.subs))
	for k := range lq.subs {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		// Nobody to call: when nothing is queued either, the signal takes
		// the new result here, if that notifies nobody (no goroutine hop).
		lq.qmu.Lock()
		quiet := len(lq.queue) == 0 && !lq.busy && lq.itemsSig.SetQuiet(cs.Items)
		lq.qmu.Unlock()
		if quiet {
			return
		}
	}
	lq.enqueue(delivery{cs: cs, targets: ids, signal: true})
}

func (lq *LiveQuery) enqueue(d delivery) {
	d.queued = lq.ctx.node.stampDelivery() // lq.mu held: lq.ctx is stable
	lq.qmu.Lock()
	lq.queue = append(lq.queue, d)
	lq.qcond.Signal()
	lq.qmu.Unlock()
}

// deliver runs the subscribers, one ChangeSet at a time, in order.
func (lq *LiveQuery) deliver() {
	defer close(lq.done)
	for {
		lq.qmu.Lock()
		for len(lq.queue) == 0 {
			if lq.stopped.Load() {
				lq.qmu.Unlock()
				return
			}
			lq.qcond.Wait()
		}
		d := lq.queue[0]
		lq.queue = lq.queue[1:]
		lq.busy = true
		lq.qmu.Unlock()
		lq.mu.Lock()
		var fs []func(ChangeSet)
		for _, k := range d.targets {
			if f, ok := lq.subs[k]; ok { // skip those unsubscribed since
				fs = append(fs, f)
			}
		}
		lq.mu.Unlock()
		lq.delivering.Store(true)
		if d.signal {
			lq.itemsSig.Set(d.cs.Items)
		}
		for _, f := range fs {
			f(d.cs)
		}
		d.queued.delivered(len(fs))
		lq.delivering.Store(false)
		lq.qmu.Lock()
		lq.busy = false
		lq.qmu.Unlock()
	}
}

// shareKey is the sharing key of the live query's selection: a live
// query with includes shares with none (its includes are its own).
func (lq *LiveQuery) shareKey(eff *query.Bound) string {
	if len(lq.incSpecs) > 0 {
		return ""
	}
	return shareKeyOf(eff)
}

// shareKeyOf is the sharing key of a LIMITed selection ("" otherwise): its
// text and its cursor, so windows after different cursors never share.
func shareKeyOf(eff *query.Bound) string {
	if !eff.HasLimit() {
		return ""
	}
	return selectionText(eff)
}

// shared is what a leading live query made of one commit, for the others
// of its caller and selection (reactor.notify).
type shared struct {
	ctx   *Context
	prev  []*View // the leader's result before the commit
	items []*View
	byID  map[id.EntityID]*View
	cs    *ChangeSet // what it published (nil: nothing)
}

// applyLead is apply, recording the result for others to adopt.
func (lq *LiveQuery) applyLead(ctx context.Context, changes []change) *shared {
	lq.mu.Lock()
	if lq.closed {
		lq.mu.Unlock()
		return nil // a closed query leads nobody
	}
	prev, c := lq.items, lq.ctx
	lq.capture, lq.captured = true, nil
	lq.mu.Unlock()
	lq.apply(ctx, changes)
	lq.mu.Lock()
	defer lq.mu.Unlock()
	captured := lq.captured
	lq.capture, lq.captured = false, nil
	if lq.closed {
		return nil // closed meanwhile: it applied nothing, so it leads nobody
	}
	return &shared{ctx: c, prev: prev, items: lq.items, byID: lq.byID, cs: captured}
}

// adopt takes a leader's result for this commit when this query held the
// same result before it (the very same slice); otherwise it applies the
// commit itself and, when it ends up with the leader's result, shares it
// from now on. Either way it publishes its own ChangeSet.
func (lq *LiveQuery) adopt(ctx context.Context, sh *shared, changes []change) {
	lq.mu.Lock()
	if !lq.closed && lq.ctx == sh.ctx && sameSlice(lq.items, sh.prev) {
		lq.items, lq.byID = sh.items, sh.byID
		lq.snapWindow()
		if sh.cs != nil {
			// Its own slices: subscribers of different live queries run
			// on different goroutines.
			lq.publish(ChangeSet{Changes: slices.Clone(sh.cs.Changes)})
		}
		lq.mu.Unlock()
		return
	}
	lq.mu.Unlock()
	lq.apply(ctx, changes)
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if !lq.closed && lq.ctx == sh.ctx && sameResult(lq.items, sh.items) {
		lq.items, lq.byID = sh.items, sh.byID
		lq.snapWindow()
	}
}

func sameSlice(a, b []*View) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func sameResult(a, b []*View) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].state.ID != b[i].state.ID || !a[i].state.Head.Equal(b[i].state.Head) {
			return false
		}
	}
	return true
}

// String describes the live query for logs.
func (lq *LiveQuery) String() string {
	return fmt.Sprintf("LiveQuery(%s on %q)", lq.qid, lq.collection)
}
