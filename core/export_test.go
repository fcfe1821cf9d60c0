package core

import (
	"context"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/transport"
)

// ApplyEventsForTest stores events as if received from a trusted peer.
func ApplyEventsForTest(ctx context.Context, n *Node, evs []event.Event) error {
	_, err := n.commitEvents(ctx, nil, "", evs, false, nil)
	return err
}

// ForwardEventsForTest sends events to the durable peer as a commit would.
func ForwardEventsForTest(ctx context.Context, n *Node, evs []event.Event) error {
	return n.commitRemote(ctx, nil, evs, nil)
}

// OutboxLenForTest is how many batches of offline commits wait to be sent.
func OutboxLenForTest(n *Node) int {
	n.upMu.Lock()
	defer n.upMu.Unlock()
	return len(n.up.outbox)
}

// SetReadTriesForTest sets how many unpaused reads a reader tries before it
// reads with publication paused (0: every read is paused) and returns a
// function that restores the default.
func SetReadTriesForTest(n int) (restore func()) {
	old := readTries
	readTries = n
	return func() { readTries = old }
}

// RemoteErrorForTest is the error a client reads from a refused response.
func RemoteErrorForTest(r *transport.Response) error { return errOf(r.Code, r.Kinds, r.Error) }
