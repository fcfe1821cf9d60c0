package core

import (
	"context"

	"github.com/ankurah/ankurah-go/core/storage"
)

// write is the last step every change of the node's data goes through —
// local commits and commits forwarded by clients (commitEvents), offline
// commits with their outbox record (applyLocal), and states received from a
// durable peer (storeSnapshots): the batch is applied as one storage batch,
// its decoded backends go to the cache, and it is published: it gets the
// next position of the node's change log, whose reactor hands the changes
// to live queries, watches and subscribed peers in log order (changelog.go).
// The caller holds commitMu and has validated and staged the batch; an error
// leaves storage and the log unchanged.
func (n *Node) write(ctx context.Context, batch *storage.Batch, changes []change) error {
	start := n.metricsNow()
	// Collections are created here, for a batch about to be written, never
	// by the reads and checks before (a refused commit creates nothing).
	for i := range batch.States {
		if _, err := n.collection(ctx, batch.States[i].State.Collection); err != nil {
			return err
		}
	}
	for i := range batch.Events {
		if _, err := n.collection(ctx, batch.Events[i].Collection); err != nil {
			return err
		}
	}
	if n.feed != nil {
		// Shared storage: the feed publishes what is written (feed.go).
		n.feed.expect(changes)
	}
	// The node never modifies a state or an event in place (a new state
	// gets new maps), so the batch's states and events are only read from
	// here on, by the change log, live queries and the outbox: an
	// in-process engine may keep them without copies.
	batch.Handover = true
	if err := n.engine.Apply(ctx, batch); err != nil {
		if n.feed != nil {
			n.feed.forget(changes)
		}
		n.observeWrite(start, 0, err)
		return err
	}
	for i := range changes {
		ch := &changes[i]
		if ch.backends != nil {
			n.cache.put(ch.collection, ch.after.ID, ch.after.Head, ch.backends, ch.applied)
			ch.backends = nil
		}
	}
	if n.feed == nil {
		n.publish(ctx, changes)
	} else {
		// Shared storage: published now when that keeps commit order per
		// entity, else when the feed delivers it (feed.go).
		n.publishOwn(ctx, changes)
	}
	n.observeWrite(start, len(changes), nil)
	return nil
}
