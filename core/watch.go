package core

import (
	"context"
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/signal"
	"github.com/ankurah/ankurah-go/core/storage"
)

// EntityWatch follows one entity: a signal of its latest view, updated after
// every commit that changes it (nil once it is deleted or no longer
// readable). On an ephemeral node the entity stays current while a live
// query covers it or a Get refreshes it.
//
// Subscribers run on a goroutine of the watch, never under a lock of the
// node, so they may call any node API (commit, fetch, Close). A subscriber
// slower than the changes sees the latest view: views in between may be
// skipped (the watch holds at most one undelivered view).
type EntityWatch struct {
	ctx  *Context
	eid  id.EntityID
	sig  *signal.Mutable[*View]
	once sync.Once

	mu       sync.Mutex
	pending  *View
	has      bool // pending holds an undelivered view (nil: deleted or unreadable)
	draining bool // a goroutine is delivering
	closed   bool
}

// Watch returns a watch of an entity, starting from its current view.
func (c *Context) Watch(ctx context.Context, collection string, eid id.EntityID) (*EntityWatch, error) {
	if c.node.isClosed.Load() {
		return nil, ErrClosed
	}
	n := c.node
	if err := n.role.refreshEntities(ctx, c, collection, eid); err != nil {
		return nil, err
	}
	var w *EntityWatch
	var st *entity.State
	err := n.readAt(ctx, func(ctx context.Context) error {
		var err error
		st, err = c.get(ctx, collection, eid)
		return err
	}, func(s0 uint64) (bool, error) {
		if n.isClosed.Load() {
			return false, ErrClosed
		}
		changed, ok := n.clog.since(s0, collection)
		if !ok {
			return false, nil
		}
		if ch := changed[eid]; ch != nil {
			// Changed while it was read: start from the published state.
			if ch.state.Deleted() || n.agent.CheckRead(ctx, c.cdata, &ch.state) != nil {
				return false, fmt.Errorf("%w: %s in %q", storage.ErrNotFound, eid, collection)
			}
			st = &ch.state
		}
		w = &EntityWatch{ctx: c, eid: eid, sig: signal.New(newView(*st))}
		n.reactor.watchEntity(w)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Get returns the entity's latest view (nil once deleted or unreadable),
// whether or not subscribers have been handed it yet.
func (w *EntityWatch) Get() *View {
	w.mu.Lock()
	if w.has {
		v := w.pending
		w.mu.Unlock()
		return v
	}
	w.mu.Unlock()
	return w.sig.Get()
}

// Subscribe calls f with every new view until unsubscribe is called.
func (w *EntityWatch) Subscribe(f func(*View)) (unsubscribe func()) { return w.sig.Subscribe(f) }

// Signal returns the watch as a signal.
func (w *EntityWatch) Signal() signal.Signal[*View] { return w.sig }

// Close stops the watch: no more views are delivered.
func (w *EntityWatch) Close() {
	w.once.Do(func() {
		w.ctx.node.reactor.unwatchEntity(w)
		w.mu.Lock()
		w.closed, w.has, w.pending = true, false, nil
		w.mu.Unlock()
	})
}

// post hands a new view to the watch's delivery goroutine (started when
// none runs; it ends when nothing is left to deliver).
func (w *EntityWatch) post(v *View) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.pending, w.has = v, true
	if !w.draining {
		w.draining = w.ctx.node.spawn(w.drain) // refused: the node is closing
	}
}

func (w *EntityWatch) drain() {
	for {
		w.mu.Lock()
		if !w.has || w.closed {
			w.draining = false
			w.mu.Unlock()
			return
		}
		v := w.pending
		w.pending, w.has = nil, false
		w.mu.Unlock()
		w.sig.Set(v)
	}
}

// changed is called by the reactor, in commit order, with the entity's new state.
func (w *EntityWatch) changed(ctx context.Context, ch *change) {
	n := w.ctx.node
	if cur := w.Get(); cur != nil && cur.state.Head.Equal(ch.after.Head) && !ch.after.Deleted() {
		return // the view it already has (read before it was published)
	}
	if ch.after.Deleted() || n.agent.CheckRead(ctx, w.ctx.cdata, &ch.after) != nil {
		w.post(nil)
		return
	}
	w.post(newView(ch.after))
}
