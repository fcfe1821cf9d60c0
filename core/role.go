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
	refreshEdit(ctx context.Context, c *Context, collection string, eid id.EntityID) error
	// refreshSelection brings a selection's entities current before a fetch.
	refreshSelection(ctx context.Context, c *Context, collection string, b *query.Bound) error
	// query makes a live query.
	query(ctx context.Context, c *Context, collection string, b *query.Bound, incs []includeSpec) (*LiveQuery, error)
	// commit writes a transaction's events.
	commit(ctx context.Context, c *Context, evs []event.Event) error
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
func (durable) refreshEdit(context.Context, *Context, string, id.EntityID) error        { return nil }
func (durable) refreshSelection(context.Context, *Context, string, *query.Bound) error {
	return nil
}
func (durable) query(ctx context.Context, c *Context, collection string, b *query.Bound, incs []includeSpec) (*LiveQuery, error) {
	return c.queryWithSink(ctx, collection, b, incs, nil, nil)
}
func (d durable) commit(ctx context.Context, c *Context, evs []event.Event) error {
	_, err := d.n.commitEvents(ctx, c.cdata, "", evs, true)
	return err
}
func (durable) mergesHeads() bool { return true }

type ephemeral struct{ n *Node }

func (ephemeral) refreshEntities(ctx context.Context, c *Context, collection string, ids ...id.EntityID) error {
	return c.remoteGet(ctx, collection, ids...)
}
func (e ephemeral) refreshEdit(ctx context.Context, c *Context, collection string, eid id.EntityID) error {
	// Edit the durable peer's latest state when connected: an edit made on a
	// stale cached copy would lose to writes it never saw. (An entity a live
	// subscription follows is kept current already.)
	if e.n.followed(eid) {
		return nil
	}
	e.n.upMu.Lock()
	draining := e.n.up.draining
	e.n.upMu.Unlock()
	if draining {
		return nil // commits made offline are being sent: the local copy is ahead
	}
	return c.remoteGet(ctx, collection, eid)
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
func (e ephemeral) commit(ctx context.Context, c *Context, evs []event.Event) error {
	return e.n.commitRemote(ctx, c.cdata, evs)
}
func (ephemeral) mergesHeads() bool { return false }
