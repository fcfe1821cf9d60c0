package core

import (
	"context"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
)

// role is everything that differs between a durable node and an ephemeral
// one, held in one place (Node.role) instead of checked where it matters: a
// durable node's storage is authoritative; an ephemeral node asks its durable
// peer first and commits through it.
type role interface {
	// refreshEntities brings entities current before they are read locally.
	refreshEntities(ctx context.Context, c *Context, collection string, ids ...id.EntityID) error
	// refreshEdit brings an entity current before a transaction edits it.
	// With mayDefer set it may instead leave that to the Mut's first read
	// (Mut.bringCurrent) and report lazy: the edit starts from this node's
	// copy, and its commit is refused if that copy is stale
	// (CommitReq.Current).
	refreshEdit(ctx context.Context, c *Context, collection string, eid id.EntityID, mayDefer bool) (lazy bool, err error)
	// refreshSelection brings a selection's entities current before a fetch.
	refreshSelection(ctx context.Context, c *Context, collection string, b *query.Bound) error
	// query makes a live query.
	query(ctx context.Context, c *Context, collection string, b *query.Bound, incs []includeSpec) (*LiveQuery, error)
	// commit writes a transaction's events. current names the entities
	// whose events must be made on the durable peer's current state (an
	// ephemeral node's edits of its own copy): if one is not, nothing is
	// written and the error wraps ErrStale.
	commit(ctx context.Context, c *Context, evs []event.Event, current []id.EntityID) error
	// mergesHeads: the node collapses heads wider than head-width with merge
	// events (durable nodes; an ephemeral node's events merge upstream).
	mergesHeads() bool
}

func roleFor(r Role, n *Node) role {
	if r == Ephemeral {
		return ephemeral{n}
	}
	return durable{n}
}

type durable struct{ n *Node }

func (durable) refreshEntities(context.Context, *Context, string, ...id.EntityID) error { return nil }
func (durable) refreshEdit(context.Context, *Context, string, id.EntityID, bool) (bool, error) {
	return false, nil
}
func (durable) refreshSelection(context.Context, *Context, string, *query.Bound) error {
	return nil
}
func (durable) query(ctx context.Context, c *Context, collection string, b *query.Bound, incs []includeSpec) (*LiveQuery, error) {
	return c.queryWithSink(ctx, collection, b, incs, nil, nil)
}
func (d durable) commit(ctx context.Context, c *Context, evs []event.Event, _ []id.EntityID) error {
	_, err := d.n.commitEvents(ctx, c.cdata, "", evs, true, nil)
	return err
}
func (durable) mergesHeads() bool { return true }

type ephemeral struct{ n *Node }

func (ephemeral) refreshEntities(ctx context.Context, c *Context, collection string, ids ...id.EntityID) error {
	return c.remoteGet(ctx, collection, ids...)
}
func (e ephemeral) refreshEdit(ctx context.Context, c *Context, collection string, eid id.EntityID, mayDefer bool) (bool, error) {
	// Edit the durable peer's latest state when connected: an edit made on a
	// stale cached copy would lose to writes it never saw. (An entity a live
	// subscription follows is kept current already.)
	if e.n.followed(eid) {
		return false, nil
	}
	e.n.upMu.Lock()
	draining, p := e.n.up.draining, e.n.up.peer
	e.n.upMu.Unlock()
	if draining {
		return false, nil // commits made offline are being sent: the local copy is ahead
	}
	// A peer of version 9 refuses the commit of an edit made on a stale
	// copy (CommitReq.Current), and the transaction then makes its writes
	// again on the current state: an edit of an entity this node holds
	// needs no read until something reads it through the Mut.
	if mayDefer && p != nil && p.remote.Version >= currentEditVersion && e.n.holds(ctx, collection, eid) {
		return true, nil
	}
	return false, c.remoteGet(ctx, collection, eid)
}
func (ephemeral) refreshSelection(ctx context.Context, c *Context, collection string, b *query.Bound) error {
	if isCacheOnly(ctx) {
		return nil // a live query's refill while notified (cacheOnly)
	}
	return c.remoteFetch(ctx, collection, b)
}
func (ephemeral) query(ctx context.Context, c *Context, collection string, b *query.Bound, incs []includeSpec) (*LiveQuery, error) {
	return c.queryRemote(ctx, collection, b, incs)
}
func (e ephemeral) commit(ctx context.Context, c *Context, evs []event.Event, current []id.EntityID) error {
	return e.n.commitRemote(ctx, c.cdata, evs, current)
}

// holds reports whether this node stores a state of the entity in the
// collection (not the stub of one the durable peer no longer gives it).
func (n *Node) holds(ctx context.Context, collection string, eid id.EntityID) bool {
	coll, err := n.readCollection(ctx, collection)
	if err != nil {
		return false
	}
	st, err := getStored(ctx, coll, eid)
	return err == nil && !evictedStub(&st) && st.Collection == collection
}
func (ephemeral) mergesHeads() bool { return false }
