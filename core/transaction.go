package core

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// Transaction groups edits of entities that commit together: every touched
// entity gets one event, the policy agent sees every event before anything
// is written, and everything is stored in one storage batch. Reads inside a
// transaction see its own edits (snapshot isolation over forked backends).
type Transaction struct {
	ctx *Context

	mu       sync.Mutex
	done     bool
	entities []*Mut
	// byID indexes the edited (not created) entities once there are more
	// than entitySetSlice of them; until then mutOf searches entities.
	byID map[id.EntityID]*Mut
}

// Begin starts a transaction.
func (c *Context) Begin() *Transaction {
	return &Transaction{ctx: c}
}

// mutOf returns the Mut of an entity this transaction edits, or nil; t.mu
// held.
func (t *Transaction) mutOf(eid id.EntityID) *Mut {
	if t.byID != nil {
		return t.byID[eid]
	}
	for _, m := range t.entities {
		if !m.created && m.id == eid {
			return m
		}
	}
	return nil
}

// addEdited adds the Mut of an edited entity; t.mu held.
func (t *Transaction) addEdited(m *Mut) {
	t.entities = append(t.entities, m)
	switch {
	case t.byID != nil:
		t.byID[m.id] = m
	case len(t.entities) > entitySetSlice:
		t.byID = make(map[id.EntityID]*Mut, 2*len(t.entities))
		for _, e := range t.entities {
			if !e.created {
				t.byID[e.id] = e
			}
		}
	}
}

// Mut is an entity being edited in a transaction.
type Mut struct {
	trx        *Transaction
	collection string
	id         id.EntityID // zero for a creation until it commits
	base       *entity.State
	backends   backendSet
	created    bool

	// Fields below are for an ephemeral node's edits (role.go); trx.mu
	// guards them.

	// lazy: the edit started from this node's own copy without reading the
	// entity from the durable peer; the first read through the Mut reads it
	// (bringCurrent), with readCtx, the context Edit was given.
	lazy    bool
	readCtx context.Context
	// unconfirmed: that read failed, so reads through the Mut saw this
	// node's copy; a stale refusal then fails the commit (no replay).
	unconfirmed bool
	// gone: the read found the entity deleted since this node's copy (the
	// commit fails with it, as Edit would have).
	gone error
	// replayable: every write so far went through Set or Delete, recorded
	// in sets in order, so the writes can be made again on a newer state.
	// The commit then asks the durable peer to refuse the entity's event
	// as stale rather than merge it as concurrent with writes it never saw
	// (CommitReq.Current), and makes the writes again if it is (rebase).
	replayable bool
	sets       []lwwSet
	// refreshing serializes bringCurrent's reads (trx.mu is not held while
	// the durable peer is asked).
	refreshing sync.Mutex
}

// lwwSet is one write of an LWW property through Set or Delete.
type lwwSet struct {
	prop string
	val  value.Value
}

// Create starts a new entity of collection. Its id is the id of its genesis
// event, so ID returns the zero id until the transaction commits.
func (t *Transaction) Create(ctx context.Context, collection string) (*Mut, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, ErrTransactionDone
	}
	if t.ctx.node.isClosed.Load() {
		return nil, ErrClosed
	}
	if err := ValidateName(collection); err != nil {
		return nil, err
	}
	if err := t.ctx.node.canAccess(ctx, t.ctx.cdata, collection); err != nil {
		return nil, err
	}
	m := &Mut{trx: t, collection: collection, backends: backendSet{}, created: true}
	t.entities = append(t.entities, m)
	return m, nil
}

// Edit returns the entity for editing in this transaction (the same Mut when
// asked twice). A deleted entity is ErrDeleted (Restore brings one back).
//
// On an ephemeral node the edit starts from the durable peer's current
// state. Connected to a peer of protocol version 9 or later, Edit of an
// entity the node holds does not ask the peer: the first read through the
// Mut (Get, Values, a datatype's Handle) does, with ctx, and a write-only
// edit is not read at all. Its commit is refused by the peer if another
// write moved the entity meanwhile, and Commit then makes the Mut's Set and
// Delete writes again on the current state (docs/sync-protocol.md, "Edits
// of the client's own copy"), so a connected edit never loses to a write it
// did not see. (A commit made offline is merged in as concurrent, as
// before; Refresh while connected starts it from the current state.)
func (t *Transaction) Edit(ctx context.Context, collection string, eid id.EntityID) (*Mut, error) {
	return t.edit(ctx, collection, eid, false)
}

// Restore undoes the deletion of an entity: when the transaction commits,
// the entity is back in every query and live query with the id, values and
// history it had, as if never deleted (an entity that is not deleted is
// left as it is). It returns the entity for further edits in the
// transaction.
//
// A delete is a write of the tombstone property, and a restore is a later
// write of it (to NULL), so concurrent deletes and restores merge as any
// two writes of one property do: a restore that saw the delete wins over
// it, a delete made after the restore wins over that, and concurrent ones
// are ordered the same way on every node. The policy agent sees it as a
// write whose before state is deleted and whose after state is not.
// Servers of builds before Restore refuse the restoring event as invalid
// (nothing is written).
func (t *Transaction) Restore(ctx context.Context, collection string, eid id.EntityID) (*Mut, error) {
	m, err := t.edit(ctx, collection, eid, true)
	if err != nil {
		return nil, err
	}
	// The same Mut as an earlier Edit or Delete of the transaction, which
	// may have left the read to later: a restore reads the tombstone.
	if err := m.bringCurrent(ctx); err != nil {
		return nil, err
	}
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	if m.trx.done {
		return nil, ErrTransactionDone
	}
	// It reads what it writes, so its writes are not made again on another
	// state: its commit is merged in as concurrent, as before version 9.
	m.replayable, m.sets, m.gone = false, nil, nil
	l, err := m.lww()
	if err != nil {
		return nil, err
	}
	if b, _ := l.Values().Get(entity.DeletedProperty).AsBool(); b {
		l.Set(entity.DeletedProperty, value.Null)
	}
	return m, nil
}

func (t *Transaction) edit(ctx context.Context, collection string, eid id.EntityID, deleted bool) (*Mut, error) {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return nil, ErrTransactionDone
	}
	if t.ctx.node.isClosed.Load() {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	if m := t.mutOf(eid); m != nil {
		t.mu.Unlock()
		if m.collection != collection {
			return nil, fmt.Errorf("%w: entity %s is in collection %q, not %q", storage.ErrNotFound, eid, m.collection, collection)
		}
		return m, nil
	}
	t.mu.Unlock()
	// A restore reads the entity's tombstone: it always starts from the
	// durable peer's state.
	lazy, err := t.ctx.node.role.refreshEdit(ctx, t.ctx, collection, eid, !deleted)
	if err != nil {
		return nil, err
	}
	st, err := t.ctx.getState(ctx, collection, eid, deleted)
	if err != nil {
		return nil, err
	}
	forks, err := t.ctx.node.forksOf(st)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, ErrTransactionDone
	}
	if m := t.mutOf(eid); m != nil {
		return m, nil
	}
	m := &Mut{trx: t, collection: collection, id: eid, base: st, backends: forks, lazy: lazy, replayable: !deleted && t.ctx.node.cfg.role == Ephemeral}
	if lazy {
		m.readCtx = ctx
	}
	t.addEdited(m)
	return m, nil
}

// forksOf returns backends for editing st: forks of the decoded ones the
// node's cache holds at its head, or decoded (and then cached).
func (n *Node) forksOf(st *entity.State) (backendSet, error) {
	forks, cached := n.cache.forks(st.Collection, st.ID, st.Head)
	if cached {
		return forks, nil
	}
	bs, err := loadSharedBackends(st) // st may be the engine's (getState)
	if err != nil {
		return nil, err
	}
	forks = forkAll(bs)
	n.cache.put(st.Collection, st.ID, st.Head, bs, 0) // after forking: the cache owns bs now
	return forks, nil
}

// Refresh reads the entity from the durable peer now, if Edit left that
// to the first read through the Mut (an ephemeral node connected to a peer
// of protocol version 9 or later), and moves the Mut's writes so far onto
// the state read. Get, Values and Handle do this themselves, with the
// context Edit was given, and so may wait on the network; call Refresh
// where that must not happen later (a binding whose reads run on an event
// loop, say) or to learn the read's error. It returns nil when there is
// nothing to read; if the read fails, the Mut keeps this node's copy, and
// its commit fails with ErrStale, rather than overwriting a write its
// reads did not see, if that copy turns out to be stale.
func (m *Mut) Refresh(ctx context.Context) error { return m.bringCurrent(ctx) }

// readOnFirstUse is Refresh with the context Edit was given, for a read
// through the Mut; a failure is kept in m.unconfirmed.
func (m *Mut) readOnFirstUse() {
	m.trx.mu.Lock()
	ctx := m.readCtx
	m.trx.mu.Unlock()
	if ctx != nil {
		_ = m.bringCurrent(ctx)
	}
}

// bringCurrent is Refresh.
func (m *Mut) bringCurrent(ctx context.Context) error {
	m.trx.mu.Lock()
	lazy := m.lazy && !m.trx.done
	m.trx.mu.Unlock()
	if !lazy {
		return nil
	}
	m.refreshing.Lock()
	defer m.refreshing.Unlock()
	m.trx.mu.Lock()
	lazy = m.lazy && !m.trx.done
	m.trx.mu.Unlock()
	if !lazy {
		return nil
	}
	c := m.trx.ctx
	var st *entity.State
	var forks backendSet
	err := c.node.getCurrent(ctx, m.collection, m.id)
	if err == nil {
		st, err = c.getState(ctx, m.collection, m.id, true)
	}
	if err == nil {
		forks, err = c.node.forksOf(st)
	}
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	if m.trx.done {
		return ErrTransactionDone
	}
	m.lazy, m.readCtx = false, nil
	if err != nil {
		// Reads through the Mut see this node's copy from now on; if the
		// commit finds it stale, it fails rather than replay writes that
		// may rest on those reads.
		m.unconfirmed = true
		return fmt.Errorf("ankurah: edit of %s: reading it from the durable peer: %w", m.id, err)
	}
	if st.Deleted() {
		m.gone = fmt.Errorf("%w: %s in %q (%w): deleted since this node's copy", storage.ErrNotFound, m.id, m.collection, ErrDeleted)
	}
	if st.Head.Equal(m.base.Head) {
		return nil
	}
	return m.replayOn(st, forks)
}

// replayOn makes the Mut's writes again on st (with forks, backends for
// editing it) and makes st its base. trx.mu is held.
func (m *Mut) replayOn(st *entity.State, forks backendSet) error {
	if len(m.sets) > 0 {
		b, err := backendFor(&forks, property.LWWName)
		if err != nil {
			return err
		}
		l := b.(*property.LWW)
		for _, w := range m.sets {
			l.Set(w.prop, w.val)
		}
	}
	m.base, m.backends = st, forks
	return nil
}

// Delete marks an entity deleted in this transaction.
func (t *Transaction) Delete(ctx context.Context, collection string, eid id.EntityID) error {
	m, err := t.Edit(ctx, collection, eid)
	if err != nil {
		return err
	}
	return m.Delete()
}

// Rollback ends the transaction without writing anything.
func (t *Transaction) Rollback() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// ID returns the entity's id (zero for a creation that has not committed).
func (m *Mut) ID() id.EntityID {
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	return m.id
}

// Collection returns the entity's collection.
func (m *Mut) Collection() string { return m.collection }

func (m *Mut) check() error {
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	if m.trx.done {
		return ErrTransactionDone
	}
	return nil
}

func (m *Mut) lww() (*property.LWW, error) {
	b, err := backendFor(&m.backends, property.LWWName)
	if err != nil {
		return nil, err
	}
	return b.(*property.LWW), nil
}

// Set sets an LWW property to a value (anything value.From accepts).
// Property names beginning with "_" are reserved.
func (m *Mut) Set(prop string, v any) error {
	if err := ValidateName(prop); err != nil {
		return err
	}
	if prop[0] == '_' {
		return fmt.Errorf("%w: %q (names beginning with _ are reserved)", ErrInvalidName, prop)
	}
	val, err := value.From(v)
	if err != nil {
		return fmt.Errorf("ankurah: set %q: %w", prop, err)
	}
	if s, ok := val.AsString(); ok && !utf8.ValidString(s) {
		return fmt.Errorf("ankurah: set %q: %w: string is not valid UTF-8 (store bytes as []byte)", prop, value.ErrUnsupported)
	}
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	if m.trx.done {
		return ErrTransactionDone
	}
	l, err := m.lww()
	if err != nil {
		return err
	}
	l.Set(prop, val)
	m.record(prop, val)
	return nil
}

// record keeps a write made through Set or Delete for replayOn. trx.mu is
// held.
func (m *Mut) record(prop string, v value.Value) {
	if m.replayable {
		m.sets = append(m.sets, lwwSet{prop, v})
	}
}

// Get returns a property's value as this transaction sees it.
func (m *Mut) Get(prop string) value.Value { return m.Values()[prop] }

// Values returns all property values as this transaction sees them. The
// first read of a lazily edited entity reads it from the durable peer
// first (Refresh).
func (m *Mut) Values() map[string]value.Value {
	m.readOnFirstUse()
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	out := map[string]value.Value{}
	for _, nb := range m.backends {
		for k, v := range nb.b.Values().All() {
			out[k] = v
		}
	}
	return out
}

// Delete marks the entity deleted: it leaves every query and live query when
// the transaction commits.
func (m *Mut) Delete() error {
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	if m.trx.done {
		return ErrTransactionDone
	}
	l, err := m.lww()
	if err != nil {
		return err
	}
	l.Set(entity.DeletedProperty, value.Bool(true))
	m.record(entity.DeletedProperty, value.Bool(true))
	return nil
}

// Handle returns a writable handle on a property, for typed datatypes
// (text.Text's Mut, say) generated code builds on. Set, Get, Values, Delete
// and Commit are safe to call from several goroutines; a datatype handle's
// edits are not synchronized with a concurrent Commit of the same
// transaction (make them before committing).
func (m *Mut) Handle(prop string) property.Handle { return mutHandle{m: m, prop: prop} }

type mutHandle struct {
	m    *Mut
	prop string
}

func (h mutHandle) Property() string { return h.prop }
func (h mutHandle) Writable() bool   { return h.m.check() == nil }
func (h mutHandle) Backend(name string) (property.Backend, error) {
	// A datatype reads and edits its backend directly: it starts from the
	// current state, and its edits are not replayed.
	h.m.readOnFirstUse()
	m := h.m
	m.trx.mu.Lock()
	defer m.trx.mu.Unlock()
	if m.trx.done {
		return nil, ErrTransactionDone
	}
	m.replayable, m.sets = false, nil
	return backendFor(&m.backends, name)
}

// pendingEvent is one entity's part of a commit.
type pendingEvent struct {
	mut *Mut
	ev  event.Event
}

// Commit turns every touched entity's edits into one event, asks the policy
// agent about all of them, and writes them in one storage batch. When another
// writer moved an entity's head meanwhile, the events are merged onto the new
// head and the batch retried (bounded by WithCommitRetries). Nothing is
// written if any event is refused.
func (t *Transaction) Commit(ctx context.Context) error {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return ErrTransactionDone
	}
	t.done = true
	muts := t.entities
	n := t.ctx.node
	if n.isClosed.Load() {
		t.mu.Unlock()
		return ErrClosed
	}
	pending, err := t.takeEvents(muts)
	t.mu.Unlock()
	if err != nil || len(pending) == 0 {
		return err
	}
	evs := make([]event.Event, len(pending))
	for i, p := range pending {
		evs[i] = p.ev
	}
	if l := n.cfg.limits.MaxCommitEvents; len(evs) > l {
		return limits.Exceeded("max-commit-events", l, len(evs), "commit: entities changed")
	}
	err = n.role.commit(ctx, t.ctx, evs, currentOfPending(pending))
	// Refused as stale: another writer moved an entity this node edited on
	// its own copy. Read the entities, make the writes again on what was
	// read, and send again; the last attempt is merged in as a concurrent
	// edit if it is overtaken once more.
	for attempt := 1; errors.Is(err, ErrStale) && attempt <= staleAttempts; attempt++ {
		for _, p := range pending {
			if p.mut.unconfirmed && p.mut.replayable {
				// Reads through it saw this node's stale copy: its writes
				// may rest on them, so they are not made again.
				return fmt.Errorf("ankurah: commit: %s was read from this node's copy (reading it from the durable peer failed), and that copy is stale; nothing was written: %w", p.mut.id, err)
			}
		}
		if err := t.rebase(ctx, pending); err != nil {
			return err
		}
		for i, p := range pending {
			evs[i] = p.ev
		}
		var current []id.EntityID
		if attempt < staleAttempts {
			current = currentOfPending(pending)
		}
		n.log.DebugContext(ctx, "commit: an entity moved since it was edited; writing again on its current state", "attempt", attempt)
		err = n.role.commit(ctx, t.ctx, evs, current)
	}
	return err
}

// staleAttempts is how many times a commit refused as stale is made again
// on the entities' current states; the last of them is not refused again,
// but merged in as concurrent with anything written meanwhile.
const staleAttempts = 3

// currentOfPending names the entities whose events were made by replayable
// writes, for CommitReq.Current.
func currentOfPending(pending []pendingEvent) []id.EntityID {
	var out []id.EntityID
	for _, p := range pending {
		if p.mut.replayable && !p.mut.created {
			out = append(out, p.mut.id)
		}
	}
	return out
}

// rebase reads the entities of a commit refused as stale from the durable
// peer and makes each replayable entity's writes again on the state read.
func (t *Transaction) rebase(ctx context.Context, pending []pendingEvent) error {
	c := t.ctx
	ids := map[string][]id.EntityID{}
	var colls []string
	for _, p := range pending {
		if m := p.mut; m.replayable && !m.created {
			if ids[m.collection] == nil {
				colls = append(colls, m.collection)
			}
			ids[m.collection] = append(ids[m.collection], m.id)
		}
	}
	for _, coll := range colls {
		if err := c.remoteGet(ctx, coll, ids[coll]...); err != nil {
			return fmt.Errorf("ankurah: commit: reading entities that moved since they were edited: %w", err)
		}
	}
	for i := range pending {
		m := pending[i].mut
		if !m.replayable || m.created {
			continue
		}
		st, err := c.getState(ctx, m.collection, m.id, true)
		if err != nil {
			return fmt.Errorf("ankurah: commit: %w", err)
		}
		if st.Deleted() {
			// Deleted meanwhile: as Edit would have, refuse (Restore
			// brings it back).
			return fmt.Errorf("ankurah: commit: %w: %s in %q (%w): deleted since this node's copy", storage.ErrNotFound, m.id, m.collection, ErrDeleted)
		}
		if st.Head.Equal(pending[i].ev.Parent) {
			continue // not this one
		}
		forks, err := c.node.forksOf(st)
		if err != nil {
			return err
		}
		t.mu.Lock()
		err = m.replayOn(st, forks)
		var ops map[string][]byte
		if err == nil {
			ops, err = m.takeOperations()
		}
		t.mu.Unlock()
		if err != nil {
			return err
		}
		pending[i].ev = event.New(m.collection, m.id, st.Head, ops)
	}
	return nil
}

// takeEvents turns every touched entity's edits into its event (t.mu held,
// so no Set runs meanwhile).
func (t *Transaction) takeEvents(muts []*Mut) ([]pendingEvent, error) {
	n := t.ctx.node
	pending := make([]pendingEvent, 0, len(muts))
	for _, m := range muts {
		if m.gone != nil {
			return nil, m.gone
		}
		ops, err := m.takeOperations()
		if err != nil {
			return nil, err
		}
		m.lazy, m.readCtx = false, nil // the transaction is done: nothing reads through m
		if len(ops) == 0 && !m.created {
			continue
		}
		var ev event.Event
		if m.created {
			nonce, err := n.randomBytes(event.NonceSize)
			if err != nil {
				return nil, err
			}
			ev = event.NewGenesis(m.collection, ops, nonce, n.cfg.now().UnixMilli())
			m.id = ev.Entity
		} else {
			ev = event.New(m.collection, m.id, m.base.Head, ops)
		}
		pending = append(pending, pendingEvent{mut: m, ev: ev})
	}
	return pending, nil
}

// takeOperations takes the operations of the Mut's backends, by backend
// name (trx.mu held).
func (m *Mut) takeOperations() (map[string][]byte, error) {
	ops := map[string][]byte{}
	for _, nb := range m.backends { // in name order
		b, err := nb.b.TakeOperations()
		if err != nil {
			return nil, fmt.Errorf("ankurah: commit: backend %q: %w", nb.name, err)
		}
		if len(b) > 0 {
			ops[nb.name] = b
		}
	}
	return ops, nil
}

// commitEvents applies events (local commits, or events received from a
// peer) to storage atomically, checking each with the agent when check is
// set, merging and retrying on conflicts, and notifying live queries once.
//
// peer is the node id of the connection the events came through ("" for a
// transaction of this node), recorded with the caller's name and the time
// of receipt in the attribution record (attribution.go).
//
// atHead names entities whose first event here must be made on their
// current head (CommitReq.Current): if it is not, nothing is written and
// the error wraps ErrStale. nil names none.
func (n *Node) commitEvents(ctx context.Context, cdata any, peer string, evs []event.Event, check bool, atHead []id.EntityID) (_ []change, err error) {
	defer n.observeCommit(&err)
	by := committer{cdata: cdata, peer: peer, at: n.cfg.now()}
	// With shared storage the feed orders publication, so writes need no
	// lock of this node: they run concurrently and storage's head checks
	// decide (feed.go). Otherwise commitMu orders each write with its
	// publication.
	serial := n.feed == nil
	backoff := time.Millisecond
	for attempt := 0; ; attempt++ {
		// After a conflict, prepare under the commit lock too, so commits on
		// this node cannot keep overtaking this one (another node on the
		// same database still can).
		locked := attempt > 0
		if locked {
			n.commitMu.Lock()
		}
		batch, changes, err := n.prepare(ctx, cdata, evs, check, atHead)
		if err == nil {
			err = n.attribute(ctx, batch, by)
		}
		if err != nil || len(changes) == 0 && len(batch.Events) == 0 {
			if locked {
				n.commitMu.Unlock()
			}
			return nil, err
		}
		if !locked && serial {
			n.commitMu.Lock()
		}
		err = n.write(ctx, batch, changes)
		if locked || serial {
			n.commitMu.Unlock()
		}
		if err == nil {
			if n.feed != nil {
				n.awaitFeed(ctx, changes)
			}
			return changes, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return nil, fmt.Errorf("ankurah: commit: %w", err)
		}
		if serial && attempt >= n.cfg.retries {
			err = fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt+1, err)
			n.log.WarnContext(ctx, "commit failed: it kept conflicting with other writers", "entities", len(changes), "err", err)
			return nil, err
		}
		if !serial {
			// Servers sharing the store: other servers' commits can keep
			// overtaking this one; back off (up to 100 ms, jittered) and
			// retry until ctx ends.
			wait := backoff/2 + time.Duration(n.jitter(int64(backoff/2)))
			backoff = min(2*backoff, 100*time.Millisecond)
			select {
			case <-ctx.Done():
				err = fmt.Errorf("%w after %d attempts (%w): %w", ErrRetriesExhausted, attempt+1, context.Cause(ctx), err)
				n.log.WarnContext(ctx, "commit failed: it kept conflicting with other writers until its context ended", "entities", len(changes), "err", err)
				return nil, err
			case <-time.After(wait):
			}
		}
		n.observeRetry()
		n.log.DebugContext(ctx, "commit conflict, merging and retrying", "attempt", attempt+1, "err", err)
	}
}

// jitter returns a number in [0, max) from the node's source of randomness.
func (n *Node) jitter(max int64) int64 {
	if max <= 0 {
		return 0
	}
	b, err := n.randomBytes(8)
	if err != nil {
		return max / 2
	}
	return int64(binary.BigEndian.Uint64(b) % uint64(max))
}

// entitySet is a set of entity ids taken out one by one: a few are kept in
// a slice (a commit of one or a few entities allocates no map), more in a
// map.
type entitySet struct {
	few  []id.EntityID
	many map[id.EntityID]bool
}

// entitySetSlice is the most ids an entitySet keeps in a slice.
const entitySetSlice = 16

func newEntitySet(ids []id.EntityID) entitySet {
	return newEntitySetIn(nil, ids)
}

// newEntitySetIn is newEntitySet keeping a few ids in buf's array (a
// caller's stack array, so a commit of a few entities allocates nothing).
func newEntitySetIn(buf []id.EntityID, ids []id.EntityID) entitySet {
	if len(ids) <= entitySetSlice {
		if len(ids) == 0 && buf == nil {
			return entitySet{}
		}
		return entitySet{few: append(buf[:0], ids...)}
	}
	m := make(map[id.EntityID]bool, len(ids))
	for _, eid := range ids {
		m[eid] = true
	}
	return entitySet{many: m}
}

// has reports whether eid is in the set.
func (s *entitySet) has(eid id.EntityID) bool {
	if s.many != nil {
		return s.many[eid]
	}
	return slices.Contains(s.few, eid)
}

// add puts eid in the set and reports whether it was not in it before.
func (s *entitySet) add(eid id.EntityID) bool {
	if s.has(eid) {
		return false
	}
	if s.many == nil && len(s.few) < entitySetSlice {
		s.few = append(s.few, eid)
		return true
	}
	if s.many == nil {
		s.many = make(map[id.EntityID]bool, 2*entitySetSlice)
		for _, x := range s.few {
			s.many[x] = true
		}
		s.few = nil
	}
	s.many[eid] = true
	return true
}

// take removes eid and reports whether it was in the set.
func (s *entitySet) take(eid id.EntityID) bool {
	if s.many != nil {
		if s.many[eid] {
			delete(s.many, eid)
			return true
		}
		return false
	}
	for i, x := range s.few {
		if x == eid {
			// Order is not kept; shrinking by a reslice of itself keeps
			// a caller's stack array on the stack (newEntitySetIn).
			last := len(s.few) - 1
			s.few[i] = s.few[last]
			s.few = s.few[:last]
			return true
		}
	}
	return false
}

// change is one entity's state before and after a commit.
type change struct {
	collection string
	before     *entity.State // nil when the entity is new here
	after      entity.State
	// beforeUnknown: another server wrote after and the state it replaced
	// is not known here (before is nil); the reactor then offers the change
	// to every live query of the collection.
	beforeUnknown bool
	// backends are after's decoded backends, for the node's cache once
	// after is stored (nil when not known), having applied applied events
	// in place since they were decoded.
	backends backendSet
	applied  int
}

// prepare builds the batch of a commit against the currently stored states.
func (n *Node) prepare(ctx context.Context, cdata any, evs []event.Event, check bool, atHead []id.EntityID) (*storage.Batch, []change, error) {
	// Sized for the common case (one event per entity): a bulk commit of
	// thousands of entities grows no map or slice while it is prepared.
	batch, changes, slots := newPrepared(len(evs))
	// slot returns room for one entity.State the batch keeps (a stored
	// state, a next one): a one-event commit's come with its batch.
	slot := func() *entity.State {
		if len(slots) > 0 {
			st := &slots[0]
			slots = slots[1:]
			return st
		}
		return new(entity.State)
	}
	current := make(map[id.EntityID]*entity.State, len(evs)) // state as of the events applied so far in this batch
	expected := make(map[id.EntityID]event.Clock, len(evs))
	stored := map[id.EntityID]*entity.State{}
	order := make([]id.EntityID, 0, len(evs))
	// staged: the batch's events so far, for the later events of the same
	// batch (duplicates, parents, relate). Nothing reads it after the last
	// event, so a one-event commit — the common case — makes no map.
	var staged map[id.EventID]event.Event
	if len(evs) > 1 {
		staged = make(map[id.EventID]event.Event, len(evs))
	}
	// owned: the decoded backends of current[eid], taken from the node's
	// cache or decoded, and changed in place by the events of this batch.
	type ownedBackends struct {
		bs      backendSet
		applied int // events applied in place since decoded
	}
	owned := make(map[id.EntityID]ownedBackends, len(evs))
	var toCheckBuf [4]id.EntityID
	toCheck := newEntitySetIn(toCheckBuf[:0], atHead) // atHead's entities whose first new event is still to come
	for i := range evs {
		if err := n.admitEvent(&evs[i]); err != nil {
			return nil, nil, err
		}
	}
	ahead, err := n.readAheadEvents(ctx, evs) // a bulk commit's lookups (readahead.go)
	if err != nil {
		return nil, nil, err
	}
	// Each collection is looked up once for the batch: a collection not
	// yet created is not remembered by the node (it may be created
	// elsewhere), so each look-up would ask storage again.
	var coll storage.Collection
	var colls map[string]storage.Collection // beside coll, once a second collection comes
	for i := range evs {
		ev := &evs[i]
		if coll == nil || coll.Name() != ev.Collection {
			c, ok := colls[ev.Collection]
			if !ok {
				if c, err = n.readCollection(ctx, ev.Collection); err != nil {
					return nil, nil, err
				}
				if coll != nil {
					if colls == nil {
						colls = map[string]storage.Collection{coll.Name(): coll}
					}
					colls[ev.Collection] = c
				}
			}
			coll = c
		}
		cur, seen := current[ev.Entity]
		if !seen {
			// Shared with the engine when it can (getStored): the stored
			// state is only read here and after — applyEventTo builds the
			// next state as a copy, and the change's before is read only.
			st, err := ahead.state(ctx, coll, ev.Collection, ev.Entity)
			switch {
			case err == nil:
				cur = slot()
				*cur = st
				expected[ev.Entity] = st.Head
				stored[ev.Entity] = cur
			case errors.Is(err, storage.ErrNotFound):
				cur = nil
				expected[ev.Entity] = nil
			default:
				return nil, nil, fmt.Errorf("ankurah: commit: load %s: %w", ev.Entity, err)
			}
			// Recorded now: an event already stored here (skipped below)
			// must not make a later event of the batch load the entity
			// again and write it twice.
			current[ev.Entity] = cur
			order = append(order, ev.Entity)
		}
		evID := ev.ID() // hashed once: it is used several times below
		if _, dup := staged[evID]; dup {
			continue
		}
		if err := n.checkParents(ctx, coll, staged, cur, ev); err != nil {
			return nil, nil, err
		}
		// An event made on the entity's current head is not applied here
		// yet — the state holds only the head's ancestors, and the event
		// descends from all of them — so the common case asks the engine
		// nothing (on PostgreSQL or TiKV a round trip per commit). Should
		// the event be stored anyway (its bytes arrived before the state
		// moved), writing it again is harmless: events are keyed by their
		// content.
		if madeOnHead := cur != nil && !ev.IsGenesis() && cur.Head.Equal(ev.Parent); !madeOnHead {
			stored, err := ahead.eventStored(ctx, coll, ev.Collection, evID)
			if err != nil {
				return nil, nil, fmt.Errorf("ankurah: commit: look up event: %w", err)
			}
			if stored {
				continue // already applied here
			}
		}
		if cur != nil && cur.Collection != ev.Collection {
			return nil, nil, fmt.Errorf("%w: event %s names collection %q, entity %s is in %q", event.ErrInvalid, evID, ev.Collection, ev.Entity, cur.Collection)
		}
		if toCheck.take(ev.Entity) {
			// The entity's first new event is the one made on the sender's
			// copy; later ones of the batch build on it.
			// A caller that may not read the entity is not told whether it
			// moved: its event is merged in as concurrent, as without
			// Current.
			if !ev.IsGenesis() && cur != nil && !cur.Head.Equal(ev.Parent) && n.agent.CheckRead(ctx, cdata, cur) == nil {
				return nil, nil, fmt.Errorf("%w: entity %s of %q was edited at head %s, its current head is %s", ErrStale, ev.Entity, ev.Collection, ev.Parent, cur.Head)
			}
		}
		apply, err := n.relate(ctx, stagedSource{coll: coll, staged: staged}, cur, ev)
		if err != nil {
			return nil, nil, err
		}
		if !apply {
			current[ev.Entity] = cur
			continue
		}
		own, ok := owned[ev.Entity]
		if !ok && cur != nil {
			own.bs, own.applied, _ = n.cache.take(ev.Collection, ev.Entity, cur.Head)
		}
		next := slot()
		var bs backendSet
		*next, bs, err = applyEventTo(cur, own.bs, ev)
		if err != nil {
			return nil, nil, err
		}
		if own.bs == nil {
			own.applied = 0 // decoded from cur
		}
		own.bs, own.applied = bs, own.applied+1
		if own.applied >= reloadAfter && n.cache.enabled() {
			if own.bs, err = loadBackends(next); err != nil {
				return nil, nil, err
			}
			own.applied = 0
		}
		owned[ev.Entity] = own
		if check {
			if err := n.agent.CheckEvent(ctx, cdata, ev, cur, next); err != nil {
				return nil, nil, fmt.Errorf("ankurah: commit to %q refused: %w", ev.Collection, err)
			}
		}
		last := i == len(evs)-1
		if !last {
			staged[evID] = *ev
		}
		batch.Events = append(batch.Events, *ev)
		if len(next.Head) > n.cfg.limits.HeadWidth && n.role.mergesHeads() {
			// Concurrent events widened the head past its bound: a merge
			// event (no operations, the whole head as parents) collapses it.
			// Its content is the head alone, so every node that merges the
			// same head makes the same event. Checked after every event, so
			// a merge never names more than head-width+1 parents.
			merge := event.New(next.Collection, ev.Entity, next.Head, nil)
			if err := n.admitEvent(&merge); err != nil {
				return nil, nil, err
			}
			merged, bs, err := applyEventTo(next, own.bs, &merge)
			if err != nil {
				return nil, nil, err
			}
			own.bs, own.applied = bs, own.applied+1
			owned[ev.Entity] = own
			if !last {
				staged[merge.ID()] = merge
			}
			batch.Events = append(batch.Events, merge)
			*next = merged
		}
		current[ev.Entity] = next
	}
	if cap(batch.States) < len(order) {
		batch.States = make([]storage.StateWrite, 0, len(order))
		changes = make([]change, 0, len(order))
	}
	for _, eid := range order {
		cur := current[eid]
		if cur == nil {
			continue
		}
		before := stored[eid]
		if before != nil && before.Head.Equal(cur.Head) {
			continue
		}
		if err := n.admitState(cur); err != nil {
			return nil, nil, err
		}
		batch.States = append(batch.States, storage.StateWrite{State: *cur, Expected: expected[eid]})
		changes = append(changes, change{collection: cur.Collection, before: before, after: *cur, backends: owned[eid].bs, applied: owned[eid].applied})
	}
	return batch, changes, nil
}

// preparedOne is what prepare makes for a one-event commit (the common
// case), in one allocation instead of six: the batch, its slices (room for
// the entity's state and its attribution record's), the change, and room
// for the stored and the next state.
type preparedOne struct {
	batch   storage.Batch
	events  [1]event.Event
	states  [2]storage.StateWrite
	changes [1]change
	slots   [2]entity.State
}

// newPrepared returns an empty batch and change list sized for n events
// (one per entity: a bulk commit of thousands of entities grows no slice
// while it is prepared; the states and changes are sized by prepare when
// there are more entities than fit).
func newPrepared(n int) (*storage.Batch, []change, []entity.State) {
	if n == 1 {
		one := new(preparedOne)
		one.batch.Events, one.batch.States = one.events[:0], one.states[:0]
		return &one.batch, one.changes[:0], one.slots[:]
	}
	return &storage.Batch{Events: make([]event.Event, 0, n)}, nil, nil
}

// checkParents refuses an event whose parents are not all events of the same
// entity that are stored here (or earlier in the same batch): an event built
// on history nobody has would make every later merge of the entity fail.
// cur is the entity's state as of the batch so far (nil when new): the
// events of its head are the entity's and stored (a state is written with
// its events), so an event made on the current head — the common case —
// looks nothing up.
func (n *Node) checkParents(ctx context.Context, coll storage.Collection, staged map[id.EventID]event.Event, cur *entity.State, ev *event.Event) error {
	if ev.IsGenesis() {
		return nil
	}
	var need []id.EventID
	for _, p := range ev.Parent {
		if cur != nil && cur.Collection == ev.Collection && cur.Head.Contains(p) {
			continue
		}
		if s, ok := staged[p]; ok {
			if s.Entity != ev.Entity {
				return fmt.Errorf("%w: event %s names a parent of another entity", event.ErrInvalid, ev.ID())
			}
			continue
		}
		need = append(need, p)
	}
	if len(need) == 0 {
		return nil
	}
	got, err := coll.GetEvents(ctx, need)
	if err != nil {
		return fmt.Errorf("ankurah: commit: look up parents: %w", err)
	}
	if len(got) != len(need) {
		return fmt.Errorf("%w: event %s builds on %d events not stored here", event.ErrMissingParent, ev.ID(), len(need)-len(got))
	}
	for _, g := range got {
		if g.Entity != ev.Entity {
			return fmt.Errorf("%w: event %s names a parent of another entity", event.ErrInvalid, ev.ID())
		}
	}
	return nil
}
