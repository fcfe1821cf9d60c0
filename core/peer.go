package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/session"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Peer is an open connection to another node, after the handshake.
type Peer struct {
	node   *Node
	conn   transport.Connection
	remote transport.Hello
	log    *slog.Logger
	since  time.Time // when the handshake completed (the node's clock)

	// out holds the outbound frames, written by one goroutine, so whoever
	// queues (often under the change log's lock) never blocks on the network.
	out *session.Outbox
	// send bounds each frame's send at writeTimeout; the outbox lets one
	// frame be sent at a time (by the writer or a SendNow), so one watch
	// serves every send of the connection.
	sendBound sendWatch
	qmu       sync.Mutex // guards closed and err
	closed    bool
	done      chan struct{}
	err       error

	// The half of the connection this node plays: a node connected to a
	// durable peer uses clientSide (client.go), a durable node serving the
	// connection serverSide (server.go); the frame queue above serves both.
	clientSide
	serverSide
}

// clientSide is what a node keeps for its connection to a durable peer.
type clientSide struct {
	reqs      session.Requests   // request ids and streamed responses
	parts     []transport.Update // parts of one commit's updates received so far
	partsN    int                // their size in bytes
	onExpired atomic.Pointer[func()]
	// commits holds the events of the commit requests waiting for their
	// answer, by request id (as many as requests in flight): the answer's
	// states descend from them (receiveResponse).
	commitsMu sync.Mutex
	commits   map[uint64][]event.Event
	// expects holds, by request id, the states this node computed for a
	// commit it sent with CommitReq.Expect (version 6): the answer lists
	// an entity as Unchanged instead of sending its state when the durable
	// peer's state is the one computed (receiveResponse stores it then).
	expects map[uint64][]entity.State
	// window holds a token per request in flight (at most limits.MaxInFlight,
	// the bound a server holds each connection to); a request waits for a
	// token before it is sent. sending is held (a token of one) while a
	// request waits for room in the outgoing queue and is queued, so a burst
	// of large requests waits for the connection instead of overflowing the
	// queue, which would end the connection as a slow peer.
	window, sending chan struct{}
}

// serverSide is what a durable node keeps for a connection it serves.
type serverSide struct {
	// updates collects, under the change log's lock, what one batch's
	// notifications send this peer; flushed as one message after it.
	updates []transport.Update

	cdataMu sync.Mutex
	cdata   policy.ContextData
	cctx    *Context  // p.node.Context(cdata), made on first use
	expires time.Time // when cdata's credentials expire (zero: never)
	gen     uint64    // incremented by every credential change
	// paused: the credentials expired; subscription updates are not sent
	// until a refresh, which then sends every subscription's current result.
	paused atomic.Bool
	// refreshing: refreshed credentials are being applied; updates are held
	// like paused ones until every subscription runs with them.
	refreshing atomic.Bool
	notified   atomic.Bool // the peer was told its credentials expired
	// pausedGone: per subscription, entities that left it while paused
	// (guarded by the change log's lock).
	pausedGone map[uint64]map[id.EntityID]string
	subMu      sync.Mutex
	reqBytes   atomic.Int64 // frames of requests waiting for the worker
	queued     atomic.Int64 // requests handed to the worker and not yet answered (only the reader adds)
	subs       map[uint64]*LiveQuery
	aggs       map[uint64]*LiveAggregate // live aggregates (aggregate_server.go), guarded by subMu
}

func newPeer(n *Node, conn transport.Connection, remote transport.Hello) *Peer {
	p := &Peer{node: n, conn: conn, remote: remote, since: n.cfg.now(), done: make(chan struct{}), serverSide: serverSide{subs: map[uint64]*LiveQuery{}}}
	p.out = session.NewOutbox(maxQueuedFrames.Load, n.cfg.limits.PeerQueueBytes, n.queued)
	p.window = make(chan struct{}, max(1, n.cfg.limits.MaxInFlight))
	p.sending = make(chan struct{}, 1)
	p.log = n.log.With("peer", remote.NodeID)
	n.peersMu.Lock()
	if !n.isClosed.Load() {
		n.peers[p] = struct{}{}
	}
	n.peersMu.Unlock()
	if !p.spawn(p.writer) {
		p.shutdown(fmt.Errorf("%w: node shutting down", ErrClosed))
	}
	return p
}

// spawn runs f on a goroutine Node.Close waits for; it refuses (false) once
// the node is closing.
func (p *Peer) spawn(f func()) bool { return p.node.spawn(f) }

// spawn runs f on a goroutine of the node, which Close waits for; it refuses
// (false) once the node is closing. Every goroutine the node starts — peers'
// readers, writers and workers, live queries' deliveries, watches' drains —
// is started here.
func (n *Node) spawn(f func()) bool {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	if n.isClosed.Load() {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// enter counts a piece of work the caller runs on its own goroutine among
// those Close waits for (done with n.wg.Done); it refuses (false) once the
// node is closing.
func (n *Node) enter() bool {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	if n.isClosed.Load() {
		return false
	}
	n.wg.Add(1)
	return true
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
	p.qmu.Unlock()
	p.out.Close()
	p.conn.Close()
	close(p.done)
	p.reqs.Close()
	p.subMu.Lock()
	subs := p.subs
	p.subs = nil
	p.subMu.Unlock()
	for _, lq := range subs {
		lq.Close()
	}
	p.closeAggregates()
	p.node.peersMu.Lock()
	delete(p.node.peers, p)
	p.node.peersMu.Unlock()
	p.node.peerGone(p)
}

// ErrSlowConsumer ends a connection whose peer does not read fast enough.
var ErrSlowConsumer = errors.New("ankurah: peer reads too slowly; connection closed")

// writeTimeout bounds one frame's send: a peer that takes longer is gone.
const writeTimeout = 30 * time.Second

// maxQueuedFrames bounds a peer's queue in frames (a variable so tests can lower it).
var maxQueuedFrames = func() *atomic.Int64 { var v atomic.Int64; v.Store(10000); return &v }()

// enqueue queues a message for the writer; it never blocks. A message too
// large for one frame is not sent (the caller is told, to fail its request
// instead). A peer whose queue passes its bound — frames, bytes
// (limits.PeerQueueBytes), or the node's budget for all peers
// (limits.ServerQueueBytes) — is disconnected with a fault saying why; a
// frame is always accepted into an empty queue, so one large answer never
// counts as slowness.
func (p *Peer) enqueue(m *transport.Message) error { return p.enqueueSized(m, 0) }

// enqueueSized is enqueue for a message of about size bytes
// (transport.EncodeSized).
func (p *Peer) enqueueSized(m *transport.Message, size int) error {
	frame, err := transport.EncodeSized(m, size)
	if err != nil {
		p.log.Error("message cannot be sent", "err", err)
		return err
	}
	p.enqueueFrame(frame)
	return nil
}

func (p *Peer) enqueueFrame(frame []byte) { p.enqueueFrames([][]byte{frame}) }

// send is enqueue for a caller holding no lock: when nothing waits ahead of
// it the message is sent on the calling goroutine (session.Outbox.SendNow),
// without a hop to the writer. Like enqueue, it returns only the error of a
// message that cannot be encoded; a failed send ends the connection.
func (p *Peer) send(m *transport.Message) error {
	frame, err := transport.Encode(m)
	if err != nil {
		p.log.Error("message cannot be sent", "err", err)
		return err
	}
	p.overflowed(p.out.SendNow(frame, p.sendFrame))
	return nil
}

// enqueueFrames queues frames as one unit: the parts of one commit's
// updates. A unit is accepted whole when the queue is empty or holds less
// than half of peer-queue-bytes — so one large commit never counts as
// slowness — and otherwise by the same bounds as a single frame; the
// node's server-queue-bytes holds for every unit.
func (p *Peer) enqueueFrames(frames [][]byte) {
	p.overflowed(p.out.Push(frames...))
}

// overflowed ends the connection when err says its outgoing queue passed a
// bound.
func (p *Peer) overflowed(err error) {
	if err == nil {
		return // queued (the common case: nothing for errors.As to look into)
	}
	var over *session.OverflowError
	if !errors.As(err, &over) {
		return // queued, or refused after an overflow or the close (already ending)
	}
	p.log.Warn("disconnecting a slow peer", "queued_frames", over.Frames, "queued_bytes", over.Bytes, "limit", over.Limit)
	err = fmt.Errorf("%w (%d frames, %d bytes waiting; limit %s)", ErrSlowConsumer, over.Frames, over.Bytes, over.Limit)
	if !p.node.spawn(func() { p.fault(transport.CodeLimit, err) }) {
		go p.shutdown(err) // the node is closing: end it without a word
	}
}

// queueLen reports whether the connection ended and what waits in its
// outgoing queue.
func (p *Peer) queueLen() (closed bool, frames, bytes int) {
	p.qmu.Lock()
	closed = p.closed
	p.qmu.Unlock()
	frames, bytes = p.out.Len()
	return closed, frames, bytes
}

// waitRoom blocks until the outgoing queue holds less than half of
// limits.PeerQueueBytes (or at most one frame), the connection ends or ctx
// is done. Streamed results call it between parts (never under a lock), so a
// large answer flows at the pace the peer reads it.
func (p *Peer) waitRoom(ctx context.Context) error {
	err := p.out.WaitRoom(ctx)
	if errors.Is(err, session.ErrOutboxClosed) {
		return transport.ErrClosed
	}
	return err
}

// addUpdate collects a subscription's part of the current batch (called
// under the change log's lock) and marks the peer for the flush.
func (p *Peer) addUpdate(u transport.Update) {
	if len(p.updates) == 0 {
		p.node.reactor.dirty = append(p.node.reactor.dirty, p)
	}
	p.updates = append(p.updates, u)
}

// flushUpdates sends what addUpdate collected (under the change log's
// lock): one message, or, when it is larger than limits.ChunkBytes, several
// parts (Message.More) that the client takes together as one commit. An
// item too large for any frame (a state stored before the limits) cannot be
// sent: its subscription ends with an error the client receives.
func (p *Peer) flushUpdates() {
	if len(p.updates) == 0 {
		return
	}
	ups := p.updates
	p.updates = nil
	chunk := p.node.cfg.limits.ChunkBytes
	var parts [][]transport.Update
	var cur []transport.Update
	size := 0
	var ended []transport.SubEnded
	for _, u := range ups {
		var items []transport.UpdateItem
		for _, it := range u.Items {
			sz := estimateStateSize(&it.State) + 16
			if sz > transport.MaxFrameSize-4096 {
				ended = append(ended, transport.SubEnded{Sub: u.Sub, Code: transport.CodeLimit,
					Message: limits.Exceeded("frame", transport.MaxFrameSize, sz, fmt.Sprintf("state of entity %s (bytes)", it.State.ID)).Error()})
				continue
			}
			if size > 0 && size+sz > chunk {
				if len(items) > 0 {
					cur = append(cur, transport.Update{Sub: u.Sub, Items: items})
					items = nil
				}
				parts = append(parts, cur)
				cur, size = nil, 0
			}
			items = append(items, it)
			size += sz
		}
		if len(items) > 0 {
			cur = append(cur, transport.Update{Sub: u.Sub, Items: items})
		}
	}
	if len(cur) > 0 {
		parts = append(parts, cur)
	}
	var frames [][]byte
	var sent [][]transport.Update // the parts of frames
	for i, part := range parts {
		frame, err := transport.Encode(&transport.Message{Updates: part, More: i < len(parts)-1})
		if err != nil {
			// Estimated to fit, yet does not: tell each subscription.
			p.log.Error("updates cannot be sent", "err", err)
			for _, u := range part {
				ended = append(ended, transport.SubEnded{Sub: u.Sub, Code: codeOf(err), Message: err.Error(), Kinds: kindsOf(err)})
			}
			continue
		}
		frames, sent = append(frames, frame), append(sent, part)
	}
	if k := len(sent); k > 0 && k < len(parts) && len(sent[k-1]) > 0 && &sent[k-1][0] != &parts[len(parts)-1][0] {
		// The last part was dropped: the one before now ends the commit.
		if frame, err := transport.Encode(&transport.Message{Updates: sent[k-1]}); err == nil {
			frames[k-1] = frame
		}
	}
	if len(frames) > 0 {
		p.enqueueFrames(frames)
	}
	for i := range ended {
		p.endSub(&ended[i])
	}
}

// endSub ends a subscription from the server's side and tells the client.
func (p *Peer) endSub(e *transport.SubEnded) {
	p.log.Error("ending a subscription that cannot be served", "sub", e.Sub, "err", e.Message)
	p.subMu.Lock()
	lq := p.subs[e.Sub]
	delete(p.subs, e.Sub)
	p.subMu.Unlock()
	if lq != nil {
		p.node.spawn(lq.Close) // not under the log's lock: Close waits for its delivery (a closing node closes it itself)
	}
	_ = p.enqueue(&transport.Message{SubEnded: e})
}

func (p *Peer) writer() {
	for {
		frame, ok := p.out.Take()
		if !ok {
			return
		}
		if p.sendFrame(frame) != nil {
			return
		}
	}
}

// sendFrame sends one frame of the outgoing queue (from the writer or a
// kick); a failed send ends the connection.
func (p *Peer) sendFrame(frame []byte) error {
	ctx := p.sendBound.start()
	err := p.conn.Send(ctx, frame)
	p.sendBound.stop()
	if err != nil {
		err = boundedSendErr(ctx, err)
		p.shutdown(fmt.Errorf("send: %w", err))
	}
	return err
}

// sendWatch bounds a connection's sends, one at a time, at writeTimeout
// without a new context and timer per frame: a send runs under one
// cancelable context the watch's timer ends when the send takes longer.
type sendWatch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

// errSendTimeout is the cause of a send's end after writeTimeout.
var errSendTimeout = fmt.Errorf("%w: a frame's send took longer than %v", context.DeadlineExceeded, writeTimeout)

// start returns the context of the next send and starts its bound.
func (w *sendWatch) start() context.Context {
	if w.ctx == nil || w.ctx.Err() != nil {
		ctx, cancel := context.WithCancelCause(context.Background())
		w.ctx, w.cancel = ctx, cancel
		w.timer = time.AfterFunc(writeTimeout, func() { cancel(errSendTimeout) })
		return w.ctx
	}
	w.timer.Reset(writeTimeout)
	return w.ctx
}

// boundedSendErr is a send's error, saying so when the bound ended it
// (errSendTimeout, a context.DeadlineExceeded).
func boundedSendErr(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w (%w)", err, context.Cause(ctx))
}

// stop ends the bound of the send start began. When the timer fired
// meanwhile (its cancel may still be on its way), the next start makes a new
// context, so a late cancel ends only the old one.
func (w *sendWatch) stop() {
	if !w.timer.Stop() {
		w.ctx = nil
	}
}

// faultTimeout bounds the send of a fault to a peer being disconnected.
const faultTimeout = 2 * time.Second

// fault tells the remote why the connection ends, then ends it.
func (p *Peer) fault(code transport.Code, err error) {
	frame, _ := transport.Encode(&transport.Message{Fault: &transport.Fault{Code: code, Message: err.Error(), Kinds: kindsOf(err)}})
	ctx, cancel := context.WithTimeout(context.Background(), faultTimeout)
	_ = p.conn.Send(ctx, frame)
	cancel()
	p.shutdown(err)
}

// The node's own sentinels cross the wire like every other (package
// session holds the one table of codes and kinds).
func init() {
	session.Register("core.retries-exhausted", transport.CodeConflict, ErrRetriesExhausted)
	session.Register("core.busy", transport.CodeBusy, ErrBusy)
	session.Register("core.stale", transport.CodeConflict, ErrStale)
	session.Register("core.closed", transport.CodeClosed, ErrClosed)
	session.Register("core.deleted", transport.CodeOK, ErrDeleted)
	session.Register("core.slow-consumer", transport.CodeOK, ErrSlowConsumer)
	session.Register("core.include", transport.CodeInvalid, ErrInclude)
	session.Register("core.cursor-unsupported", transport.CodeInvalid, ErrCursorUnsupported)
}

// ErrRemote wraps every error a remote node reported (session.ErrRemote).
var ErrRemote = session.ErrRemote

func codeOf(err error) transport.Code { return session.CodeOf(err) }

func kindsOf(err error) string { return session.KindsOf(err) }

func errOf(code transport.Code, kinds, msg string) error { return session.Remote(code, kinds, msg) }
