package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// Peer is an open connection to another node, after the handshake.
type Peer struct {
	node   *Node
	conn   transport.Connection
	remote transport.Hello
	log    *slog.Logger

	// outbound frames are queued and written by one goroutine, so whoever
	// queues (often under the node's commit lock) never blocks on the network.
	qmu      sync.Mutex
	qcond    *sync.Cond
	queue    [][]byte
	queued   int  // bytes in queue
	overflow bool // the queue passed its bound; the peer is being disconnected
	closed   bool
	done     chan struct{}
	err      error

	// updates collects, under the node's commit lock, what one commit's
	// notifications send this peer; flushed as one message after the commit.
	updates []transport.Update

	// client side
	reqMu   sync.Mutex
	nextReq uint64
	pending map[uint64]chan *transport.Response

	// server side
	cdataMu sync.Mutex
	cdata   policy.ContextData
	subMu   sync.Mutex
	subs    map[uint64]*LiveQuery
}

func newPeer(n *Node, conn transport.Connection, remote transport.Hello) *Peer {
	p := &Peer{node: n, conn: conn, remote: remote, done: make(chan struct{}), pending: map[uint64]chan *transport.Response{}, subs: map[uint64]*LiveQuery{}}
	p.qcond = sync.NewCond(&p.qmu)
	p.log = n.log.With("peer", remote.NodeID)
	go p.writer()
	return p
}

// NodeID returns the remote node's id.
func (p *Peer) NodeID() string { return p.remote.NodeID }

// Durable reports whether the remote node is durable.
func (p *Peer) Durable() bool { return p.remote.Durable }

// SystemID returns the remote durable node's system id.
func (p *Peer) SystemID() string { return p.remote.SystemID }

// Done is closed when the connection ends.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err returns why the connection ended (nil while it is open).
func (p *Peer) Err() error {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return p.err
}

// Close ends the connection.
func (p *Peer) Close() error {
	p.shutdown(transport.ErrClosed)
	return nil
}

func (p *Peer) shutdown(err error) {
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		return
	}
	p.closed = true
	p.err = err
	p.qcond.Broadcast()
	p.qmu.Unlock()
	p.conn.Close()
	close(p.done)
	p.reqMu.Lock()
	for id, ch := range p.pending {
		close(ch)
		delete(p.pending, id)
	}
	p.reqMu.Unlock()
	p.subMu.Lock()
	subs := p.subs
	p.subs = map[uint64]*LiveQuery{}
	p.subMu.Unlock()
	for _, lq := range subs {
		lq.Close()
	}
	p.node.peerGone(p)
}

// Limits of a peer's outgoing queue: a peer that does not read what it is
// sent is disconnected rather than allowed to hold the server's memory.
const (
	maxQueuedBytes = 64 << 20
	writeTimeout   = 30 * time.Second
)

// maxQueuedFrames bounds a peer's queue in frames (a variable so tests can lower it).
var maxQueuedFrames = func() *atomic.Int64 { var v atomic.Int64; v.Store(10000); return &v }()

// ErrSlowConsumer ends a connection whose peer does not read fast enough.
var ErrSlowConsumer = errors.New("ankurah: peer reads too slowly; connection closed")

// enqueue queues a message for the writer; it never blocks. A peer whose
// queue is full is disconnected.
func (p *Peer) enqueue(m *transport.Message) {
	frame, err := transport.Encode(m)
	if err != nil {
		p.log.Error("dropping unencodable message", "err", err)
		return
	}
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		return
	}
	if p.overflow {
		p.qmu.Unlock()
		return
	}
	if int64(len(p.queue)) >= maxQueuedFrames.Load() || p.queued+len(frame) > maxQueuedBytes {
		n, b := len(p.queue), p.queued
		p.overflow = true
		p.qmu.Unlock()
		p.log.Warn("disconnecting a slow peer", "queued_frames", n, "queued_bytes", b)
		go p.shutdown(fmt.Errorf("%w (%d frames, %d bytes waiting)", ErrSlowConsumer, n, b))
		return
	}
	p.queue = append(p.queue, frame)
	p.queued += len(frame)
	p.qcond.Signal()
	p.qmu.Unlock()
}

// addUpdate collects a subscription's part of the current commit (called
// under the node's commit lock) and marks the peer for the flush.
func (p *Peer) addUpdate(u transport.Update) {
	if len(p.updates) == 0 {
		p.node.reactor.dirty = append(p.node.reactor.dirty, p)
	}
	p.updates = append(p.updates, u)
}

// flushUpdates sends what addUpdate collected as one message (under the
// node's commit lock).
func (p *Peer) flushUpdates() {
	if len(p.updates) > 0 {
		p.enqueue(&transport.Message{Updates: p.updates})
		p.updates = nil
	}
}

func (p *Peer) writer() {
	for {
		p.qmu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.qcond.Wait()
		}
		if p.closed {
			p.qmu.Unlock()
			return
		}
		frame := p.queue[0]
		p.queue = p.queue[1:]
		p.queued -= len(frame)
		p.qmu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := p.conn.Send(ctx, frame)
		cancel()
		if err != nil {
			p.shutdown(fmt.Errorf("send: %w", err))
			return
		}
	}
}

// fault tells the remote why the connection ends, then ends it.
func (p *Peer) fault(code transport.Code, err error) {
	frame, _ := transport.Encode(&transport.Message{Fault: &transport.Fault{Code: code, Message: err.Error()}})
	_ = p.conn.Send(context.Background(), frame)
	p.shutdown(err)
}

// codeOf classifies an error for the wire.
func codeOf(err error) transport.Code {
	switch {
	case err == nil:
		return transport.CodeOK
	case errors.Is(err, storage.ErrNotFound):
		return transport.CodeNotFound
	case errors.Is(err, policy.ErrAccessDenied):
		return transport.CodeDenied
	case errors.Is(err, policy.ErrUnauthenticated):
		return transport.CodeUnauthenticated
	case errors.Is(err, storage.ErrConflict), errors.Is(err, ErrRetriesExhausted):
		return transport.CodeConflict
	case errors.Is(err, transport.ErrVersion):
		return transport.CodeVersion
	case errors.Is(err, transport.ErrProtocol):
		return transport.CodeProtocol
	}
	for _, s := range []error{policy.ErrInvalid, event.ErrInvalid, event.ErrMissingParent, event.ErrBudgetExceeded, property.ErrInvalid,
		property.ErrUnknownBackend, query.ErrSyntax, query.ErrBind, query.ErrType, ErrInvalidName, value.ErrUnsupported, storage.ErrInvalid} {
		if errors.Is(err, s) {
			return transport.CodeInvalid
		}
	}
	return transport.CodeInternal
}

// ErrRemote wraps every error a remote node reported.
var ErrRemote = errors.New("ankurah: remote error")

// errOf turns a wire error back into one that wraps the right sentinel.
func errOf(code transport.Code, msg string) error {
	var s error
	switch code {
	case transport.CodeNotFound:
		s = storage.ErrNotFound
	case transport.CodeDenied:
		s = policy.ErrAccessDenied
	case transport.CodeUnauthenticated:
		s = policy.ErrUnauthenticated
	case transport.CodeConflict:
		s = storage.ErrConflict
	case transport.CodeVersion:
		s = transport.ErrVersion
	case transport.CodeProtocol:
		s = transport.ErrProtocol
	case transport.CodeInvalid:
		s = policy.ErrInvalid
	default:
		return fmt.Errorf("%w: %s", ErrRemote, msg)
	}
	return fmt.Errorf("%w: %w: %s", ErrRemote, s, msg)
}
