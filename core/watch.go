package core

import (
	"context"
	"sync"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/signal"
)

// EntityWatch follows one entity: a signal of its latest view, updated after
// every commit that changes it (nil once it is deleted or no longer
// readable). On an ephemeral node the entity stays current while a live
// query covers it or a Get refreshes it.
type EntityWatch struct {
	ctx  *Context
	eid  id.EntityID
	sig  *signal.Mutable[*View]
	once sync.Once
}

// Watch returns a watch of an entity, starting from its current view.
func (c *Context) Watch(ctx context.Context, collection string, eid id.EntityID) (*EntityWatch, error) {
	v, err := c.Get(ctx, collection, eid)
	if err != nil {
		return nil, err
	}
	w := &EntityWatch{ctx: c, eid: eid, sig: signal.New(v)}
	c.node.reactor.watchEntity(w)
	return w, nil
}

// Get returns the entity's latest view (nil once deleted or unreadable).
func (w *EntityWatch) Get() *View { return w.sig.Get() }

// Subscribe calls f with every new view until unsubscribe is called.
func (w *EntityWatch) Subscribe(f func(*View)) (unsubscribe func()) { return w.sig.Subscribe(f) }

// Signal returns the watch as a signal.
func (w *EntityWatch) Signal() signal.Signal[*View] { return w.sig }

// Close stops the watch.
func (w *EntityWatch) Close() {
	w.once.Do(func() { w.ctx.node.reactor.unwatchEntity(w) })
}

// changed is called by the reactor, in commit order, with the entity's new state.
func (w *EntityWatch) changed(ctx context.Context, ch *change) {
	n := w.ctx.node
	if ch.after.Deleted() || n.agent.CheckRead(ctx, w.ctx.cdata, &ch.after) != nil {
		w.sig.Set(nil)
		return
	}
	w.sig.Set(newView(ch.after))
}
