package sim

import (
	"context"
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core/transport"
)

// MaxInFlight bounds the frames waiting in one direction of a link. A sender
// that would pass it cuts the link instead (its Send fails with
// transport.ErrClosed), as a real connection whose buffers overflow resets:
// the nodes reconnect and resynchronise, which the simulation checks.
const MaxInFlight = 4096

// Network is the virtual network the nodes of one simulation talk over.
// Every connection is a Link; a frame one end sends waits in flight until
// the scheduler delivers it (Deliver), duplicates it, drops it (cutting the
// link, as a transport only loses frames with its connection) or cuts the
// link. Within a link frames keep their order, as on a websocket; across
// links the scheduler picks any order, which is how it reorders and delays.
// A Network is safe for concurrent use.
type Network struct {
	mu       sync.Mutex
	links    []*Link
	nextID   int
	activity uint64 // bumped by every send and receive
}

// Link is one connection between a client node and a server node.
type Link struct {
	ID             int
	Client, Server string // node names
	net            *Network
	ends           [2]*end // [0]: the client's end, [1]: the server's
	cut            bool
}

// end is one side of a link: what the other side sent it (inflight, not
// yet delivered; inbox, delivered and not yet received).
type end struct {
	link     *Link
	side     int
	inflight [][]byte
	inbox    [][]byte
	wake     chan struct{} // closed and replaced when inbox grows or the link is cut
}

// Dial makes a link from client to server and returns both ends.
func (n *Network) Dial(client, server string) (*Link, transport.Connection, transport.Connection) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextID++
	l := &Link{ID: n.nextID, Client: client, Server: server, net: n}
	for i := range l.ends {
		l.ends[i] = &end{link: l, side: i, wake: make(chan struct{})}
	}
	n.links = append(n.links, l)
	return l, l.ends[0], l.ends[1]
}

func (e *end) other() *end { return e.link.ends[1-e.side] }

// Send queues frame in flight towards the other end.
func (e *end) Send(ctx context.Context, frame []byte) error {
	if len(frame) > transport.MaxFrameSize {
		return fmt.Errorf("%w: frame of %d bytes", transport.ErrTooLarge, len(frame))
	}
	n := e.link.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.link.cut {
		return transport.ErrClosed
	}
	o := e.other()
	if len(o.inflight) >= MaxInFlight {
		n.cutLocked(e.link)
		return transport.ErrClosed
	}
	o.inflight = append(o.inflight, append([]byte(nil), frame...))
	n.activity++
	return nil
}

// Recv returns the next delivered frame; after a cut it still returns what
// was delivered before it, then transport.ErrClosed.
func (e *end) Recv(ctx context.Context) ([]byte, error) {
	n := e.link.net
	for {
		n.mu.Lock()
		if len(e.inbox) > 0 {
			f := e.inbox[0]
			e.inbox[0] = nil
			e.inbox = e.inbox[1:]
			n.activity++
			n.mu.Unlock()
			return f, nil
		}
		if e.link.cut {
			n.mu.Unlock()
			return nil, transport.ErrClosed
		}
		wake := e.wake
		n.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close cuts the link.
func (e *end) Close() error {
	n := e.link.net
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cutLocked(e.link)
	return nil
}

func (e *end) signal() {
	close(e.wake)
	e.wake = make(chan struct{})
}

func (n *Network) cutLocked(l *Link) {
	if l.cut {
		return
	}
	l.cut = true
	for _, e := range l.ends {
		e.inflight = nil
		e.signal()
	}
	n.activity++
	for i, x := range n.links {
		if x == l {
			n.links = append(n.links[:i], n.links[i+1:]...)
			break
		}
	}
}

// Cut cuts the link: frames in flight are lost, both ends see it closed.
func (n *Network) Cut(l *Link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cutLocked(l)
}

// Queue names one direction of one link: frames towards its client (ToClient)
// or its server.
type Queue struct {
	Link     *Link
	ToClient bool
}

func (q Queue) end() *end {
	if q.ToClient {
		return q.Link.ends[0]
	}
	return q.Link.ends[1]
}

// Busy returns the queues holding frames in flight, in a deterministic
// order (link creation, then towards the server before towards the client).
func (n *Network) Busy() []Queue {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Queue
	for _, l := range n.links {
		if len(l.ends[1].inflight) > 0 {
			out = append(out, Queue{l, false})
		}
		if len(l.ends[0].inflight) > 0 {
			out = append(out, Queue{l, true})
		}
	}
	return out
}

// Links returns the open links in creation order.
func (n *Network) Links() []*Link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Link(nil), n.links...)
}

// Head returns the next frame in flight on q (nil if none).
func (n *Network) Head(q Queue) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := q.end()
	if len(e.inflight) == 0 {
		return nil
	}
	return e.inflight[0]
}

// Deliver hands the next frame in flight on q to its receiver.
func (n *Network) Deliver(q Queue) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := q.end()
	if q.Link.cut || len(e.inflight) == 0 {
		return false
	}
	e.inbox = append(e.inbox, e.inflight[0])
	e.inflight[0] = nil
	e.inflight = e.inflight[1:]
	e.signal()
	return true
}

// Duplicate delivers the next frame in flight on q twice.
func (n *Network) Duplicate(q Queue) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := q.end()
	if q.Link.cut || len(e.inflight) == 0 {
		return false
	}
	f := e.inflight[0]
	e.inflight = e.inflight[1:]
	e.inbox = append(e.inbox, f, append([]byte(nil), f...))
	e.signal()
	return true
}

// Drop loses the next frame in flight on q, and with it the link.
func (n *Network) Drop(q Queue) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cutLocked(q.Link)
}

// idle reports whether every delivered frame has been received, and the
// activity counter.
func (n *Network) idle() (bool, uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.links {
		for _, e := range l.ends {
			if len(e.inbox) > 0 {
				return false, n.activity
			}
		}
	}
	return true, n.activity
}

// InFlight returns how many frames wait in flight on all links.
func (n *Network) InFlight() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, l := range n.links {
		k += len(l.ends[0].inflight) + len(l.ends[1].inflight)
	}
	return k
}
