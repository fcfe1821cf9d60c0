package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/session"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// upstream is an ephemeral node's link to its durable peer, its outbox of
// commits made while offline, and its live queries backed by subscriptions.
type upstream struct {
	peer      *Peer
	connected chan struct{} // closed while a peer is connected; replaced when it drops
	outbox    [][]event.Event
	draining  bool            // resync is sending the outbox: new commits wait for it (setDraining)
	drained   chan struct{}   // closed when draining ends; replaced when it starts
	sending   [][]event.Event // the drained commits not yet acknowledged
	subs      map[uint64]*LiveQuery
	aggs      map[uint64]*LiveAggregate // aggregate_remote.go
	nextSub   uint64
	systemID  string
}

// Connect performs the client side of the handshake on conn, with the given
// credentials, and makes the remote durable node this (ephemeral) node's
// upstream: commits are forwarded to it, reads ask it, live queries
// subscribe on it. On every (re)connection the node sends the commits it
// made offline and re-subscribes its live queries with the heads it knows.
func (n *Node) Connect(ctx context.Context, conn transport.Connection, credentials []byte) (*Peer, error) {
	hello := &transport.Message{Hello: &transport.Hello{NodeID: n.id.String(), Durable: n.cfg.role == Durable, SystemID: n.cfg.systemID, Version: transport.ProtocolVersion, Credentials: credentials}}
	frame, err := transport.Encode(hello)
	if err != nil {
		return nil, err
	}
	if err := conn.Send(ctx, frame); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ankurah: handshake: %w", err)
	}
	frame, err = conn.Recv(ctx)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ankurah: handshake: %w", err)
	}
	m, err := transport.Decode(frame)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ankurah: handshake: %w", err)
	}
	if m.Fault != nil {
		conn.Close()
		return nil, fmt.Errorf("ankurah: connection refused: %w", errOf(m.Fault.Code, m.Fault.Kinds, m.Fault.Message))
	}
	if m.Hello == nil {
		conn.Close()
		return nil, fmt.Errorf("ankurah: handshake: %w: expected hello", transport.ErrProtocol)
	}
	if m.Hello.Version < transport.MinProtocolVersion || m.Hello.Version > transport.ProtocolVersion {
		conn.Close()
		return nil, fmt.Errorf("ankurah: %w: server speaks protocol version %d, this node speaks %d", transport.ErrVersion, m.Hello.Version, transport.ProtocolVersion)
	}
	if !m.Hello.Durable {
		conn.Close()
		return nil, fmt.Errorf("ankurah: %w: peer %s is not durable", transport.ErrProtocol, m.Hello.NodeID)
	}
	p := newPeer(n, conn, *m.Hello)
	if !p.spawn(p.clientLoop) {
		p.shutdown(ErrClosed)
		return nil, ErrClosed
	}
	n.upMu.Lock()
	up := &n.up
	changed := up.systemID != "" && up.systemID != m.Hello.SystemID
	up.systemID = m.Hello.SystemID
	old := up.peer
	up.peer = p
	if len(up.outbox) > 0 {
		// Commits made from now on wait for the outbox (awaitDrain), not
		// only once resync's drain has begun: one sent online in between
		// would reach the server before the offline commits it builds on.
		up.setDraining(true)
	}
	select {
	case <-up.connected:
	default:
		close(up.connected)
	}
	n.upMu.Unlock()
	if old != nil {
		old.Close() // outside upMu: its shutdown takes it
	}
	if changed {
		// Another system: nothing cached here belongs to it. Commits still
		// waiting are sent all the same; the new system refuses those that
		// build on entities it does not have.
		n.log.Warn("durable peer belongs to a different system than before; dropping the cache", "system_id", m.Hello.SystemID)
		if err := n.dropCache(ctx); err != nil {
			n.log.Warn("cannot drop the cache", "err", err)
		}
	}
	// The outbox and re-subscriptions must not be cut short by a deadline
	// meant for the handshake.
	n.resync(context.WithoutCancel(ctx), p)
	return p, nil
}

// RefreshCredentials sends new credentials to the durable peer (a renewed token, say).
func (p *Peer) RefreshCredentials(credentials []byte) {
	p.enqueue(&transport.Message{Credentials: credentials})
	p.node.spawn(func() { p.node.resubscribeAggregates(context.Background(), p) }) // with the new identity (aggregate_remote.go)
}

// Connected returns a channel that is closed while a durable peer is connected.
func (n *Node) Connected() <-chan struct{} {
	n.upMu.Lock()
	defer n.upMu.Unlock()
	return n.up.connected
}

func (n *Node) peerGone(p *Peer) {
	n.upMu.Lock()
	defer n.upMu.Unlock()
	if n.up.peer == p {
		n.up.peer = nil
		n.up.connected = make(chan struct{})
	}
}

func (n *Node) upstreamPeer() *Peer {
	n.upMu.Lock()
	defer n.upMu.Unlock()
	return n.up.peer
}

// resync sends the offline outbox and re-subscribes live queries.
func (n *Node) resync(ctx context.Context, p *Peer) {
	n.upMu.Lock()
	subs := make(map[uint64]*LiveQuery, len(n.up.subs))
	for k, v := range n.up.subs {
		subs[k] = v
	}
	n.upMu.Unlock()
	n.drainOutbox(ctx, p)
	for sub, lq := range subs {
		if err := n.subscribeRemote(ctx, p, sub, lq.collection, lq.Selection(), lq.incSpecs, lq.Items()); err != nil {
			n.log.Error("re-subscribing live query failed", "query", lq.qid.String(), "err", err)
		}
	}
	n.resubscribeAggregates(ctx, p)
}

// refresh replaces cached entities with the durable peer's states.
func (n *Node) refresh(ctx context.Context, p *Peer, evs []event.Event) {
	byColl := map[string][]id.EntityID{}
	for _, ev := range evs {
		byColl[ev.Collection] = append(byColl[ev.Collection], ev.Entity)
	}
	n.upMu.Lock()
	var kept, dropped [][]event.Event
	for _, b := range n.up.outbox {
		if !sameEntities(b, evs) {
			kept = append(kept, b)
		} else {
			dropped = append(dropped, b)
		}
	}
	n.up.outbox = kept
	n.upMu.Unlock()
	var failed error
	for coll, ids := range byColl {
		if err := n.getOrEvict(ctx, p, coll, ids); err != nil {
			failed = err
		}
	}
	if failed != nil && isDisconnect(failed) {
		// Cut short by the connection: the refused commit and those dropped
		// with it stay in the outbox, so the next connection (or the node
		// opened next on this storage) sends them again, is refused again
		// and refreshes — a refused commit never stays in the cache.
		n.log.Warn("refreshing entities after a refused commit failed; retrying on the next connection", "err", failed)
		n.upMu.Lock()
		n.up.outbox = append(append([][]event.Event{evs}, dropped...), n.up.outbox...)
		n.upMu.Unlock()
		return
	}
	if failed != nil {
		n.log.Warn("refreshing entities after a refused commit failed", "err", failed)
	}
	n.unpersistOutbox(ctx, evs)
	for _, b := range dropped {
		n.unpersistOutbox(ctx, b)
	}
}

// isRefusal reports whether a durable peer refused a request on its merits
// (as opposed to the connection failing or the peer being unable to answer).
func isRefusal(err error) bool {
	// Not policy.ErrUnauthenticated: credentials that expired say nothing
	// about the commit, which is kept and sent again once refreshed.
	// The event and property sentinels too: an event the peer cannot apply
	// (invalid operations, or building on events it does not have because
	// the commit that brought them was refused) never will be.
	for _, s := range []error{policy.ErrAccessDenied, policy.ErrInvalid, storage.ErrNotFound, transport.ErrProtocol, limits.ErrExceeded,
		event.ErrInvalid, event.ErrMissingParent, event.ErrTooLarge, property.ErrInvalid} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// getOrEvict asks the durable peer for entities and drops from the cache
// those it does not return (deleted for good, unreadable, or never stored
// there — a refused creation).
func (n *Node) getOrEvict(ctx context.Context, p *Peer, collection string, ids []id.EntityID) error {
	// The heads cached before asking: an entity whose state changed since
	// (a subscription's update arriving after the answer) is not dropped on
	// the strength of an answer older than that state.
	// A peer of version 8 or later is told these heads too (GetReq.Known)
	// and answers an entity still at its head as Unchanged, without its
	// state.
	// (An evicted stub is not named: the peer's state at the stub's head is
	// not the stub.)
	asked := make(map[id.EntityID]event.Clock, len(ids))
	held := make(map[id.EntityID]bool, len(ids))
	if coll, err := n.readCollection(ctx, collection); err == nil {
		for _, eid := range ids {
			if st, err := getStored(ctx, coll, eid); err == nil {
				asked[eid] = st.Head
				held[eid] = !evictedStub(&st) && st.Collection == collection
			}
		}
	}
	conditional := p.remote.Version >= conditionalGetVersion
	got := make(map[id.EntityID]bool, len(ids))
	for start := 0; start < len(ids); start += n.cfg.limits.MaxIDs {
		part := ids[start:min(len(ids), start+n.cfg.limits.MaxIDs)]
		req := &transport.GetReq{Collection: collection, IDs: part}
		if conditional {
			for _, eid := range part {
				if head, ok := asked[eid]; ok && held[eid] {
					req.Known = append(req.Known, transport.Known{Entity: eid, Head: head})
				}
			}
		}
		resp, err := p.request(ctx, &transport.Request{Get: req})
		if err != nil {
			return err
		}
		for _, s := range resp.States {
			got[s.ID] = true
		}
		for _, u := range resp.Unchanged {
			got[u] = true
		}
	}
	var gone []entity.State
	for _, raw := range ids {
		if head, ok := asked[raw]; ok && !got[raw] {
			gone = append(gone, entity.State{ID: raw, Collection: collection, Head: head})
		}
	}
	return n.storeSnapshots(ctx, p, nil, gone)
}

func sameEntities(a, b []event.Event) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Entity == y.Entity {
				return true
			}
		}
	}
	return false
}

func isDisconnect(err error) bool {
	return errors.Is(err, transport.ErrClosed) || errors.Is(err, errNoUpstream)
}

// Busy backoff: a request the durable peer refused as busy (its connection
// had max-in-flight requests waiting, or their bytes passed peer-queue-bytes)
// was not looked at, so it is sent again after a jittered wait that doubles
// from busyBackoffMin to busyBackoffMax, until ctx ends. The server's bound
// stands; the client paces itself instead of losing the write.
const (
	busyBackoffMin = 2 * time.Millisecond
	busyBackoffMax = 250 * time.Millisecond
)

// keep is what an answer's states leave in the response its request gets,
// once receiveResponse has stored them.
type keep uint8

const (
	keepIDs     keep = iota // ids, collections and heads (request)
	keepOutcome             // none (requestOutcome, requestExpecting)
	keepRows                // ids, collections, heads and values (requestRows)
)

// request sends a request and waits for its response. States in the
// response are already stored locally when it returns; the response keeps
// their ids and heads, not their values or backends. A busy refusal is
// retried (see busyBackoffMin) until ctx ends.
func (p *Peer) request(ctx context.Context, r *transport.Request) (*transport.Response, error) {
	return p.requestRetrying(ctx, &transport.Message{Request: r}, nil, keepIDs)
}

// requestRows is request for a caller that compares the answer's rows
// (a LIMITed fetch finds its window's last row by their values): the
// response keeps the states' values too.
func (p *Peer) requestRows(ctx context.Context, r *transport.Request) (*transport.Response, error) {
	return p.requestRetrying(ctx, &transport.Message{Request: r}, nil, keepRows)
}

// requestOutcome is request for a caller that needs the answer's outcome
// (its error, unchanged ids and events), not its states: receiveResponse
// stores those as they arrive and the answer keeps none of them, so a large
// answer streamed in many parts accumulates nothing on the way.
func (p *Peer) requestOutcome(ctx context.Context, r *transport.Request) (*transport.Response, error) {
	return p.requestRetrying(ctx, &transport.Message{Request: r}, nil, keepOutcome)
}

// requestExpecting is requestOutcome for a commit sent with the states this
// node computed for it (CommitReq.Expect): those the answer lists unchanged
// are stored as computed. m is the message that carries the request
// (m.Request; its ID is set for each attempt).
func (p *Peer) requestExpecting(ctx context.Context, m *transport.Message, expect []entity.State) (*transport.Response, error) {
	return p.requestRetrying(ctx, m, expect, keepOutcome)
}

// requestRetrying sends request m until it is not answered busy, waiting
// a growing, jittered while between attempts (requestOnce has the rest).
func (p *Peer) requestRetrying(ctx context.Context, m *transport.Message, expect []entity.State, k keep) (*transport.Response, error) {
	wait := busyBackoffMin
	for {
		resp, err := p.requestOnce(ctx, m, expect, k)
		if resp == nil || resp.Code != transport.CodeBusy {
			return resp, err
		}
		t := time.NewTimer(time.Duration(int64(wait)/2 + p.node.jitter(int64(wait)/2+1)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return resp, err
		case <-p.done:
			t.Stop()
			return nil, transport.ErrClosed
		}
		wait = min(2*wait, busyBackoffMax)
	}
}

// requestOnce sends one attempt of request m; k is what its answer keeps of
// its states.
func (p *Peer) requestOnce(ctx context.Context, m *transport.Message, expect []entity.State, k keep) (*transport.Response, error) {
	if err := p.acquireWindow(ctx); err != nil {
		return nil, err
	}
	defer p.releaseWindow()
	start := p.reqs.Start
	switch k {
	case keepOutcome:
		start = p.reqs.StartOutcome
	case keepRows:
		start = p.reqs.StartRows
	}
	call, ok := start()
	if !ok {
		return nil, transport.ErrClosed
	}
	r := m.Request
	reqID := call.ID
	r.ID = reqID
	if r.Commit != nil {
		p.commitsMu.Lock()
		if p.commits == nil {
			p.commits = map[uint64][]event.Event{}
		}
		p.commits[reqID] = r.Commit.Events
		if len(expect) > 0 {
			if p.expects == nil {
				p.expects = map[uint64][]entity.State{}
			}
			p.expects[reqID] = expect
		}
		p.commitsMu.Unlock()
		defer func() {
			p.commitsMu.Lock()
			delete(p.commits, reqID)
			delete(p.expects, reqID)
			p.commitsMu.Unlock()
		}()
	}
	if err := p.sendRequest(ctx, m); err != nil {
		p.reqs.Cancel(r.ID)
		return nil, err
	}
	select {
	case resp, ok := <-call.C:
		if !ok {
			return nil, transport.ErrClosed
		}
		p.reqs.Done(call)
		if resp.Error != "" {
			return resp, errOf(resp.Code, resp.Kinds, resp.Error)
		}
		return resp, nil
	case <-ctx.Done():
		p.reqs.Cancel(r.ID)
		return nil, ctx.Err()
	}
}

// acquireWindow waits for one of the connection's request tokens (see
// clientSide.window) until ctx ends or the connection does; releaseWindow
// gives it back.
func (p *Peer) acquireWindow(ctx context.Context) error {
	select {
	case p.window <- struct{}{}:
		return nil
	default:
	}
	select {
	case p.window <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return transport.ErrClosed
	}
}

// releaseWindow gives back the token acquireWindow took.
func (p *Peer) releaseWindow() { <-p.window }

// sendRequest queues m (a request) once less than half of the outgoing queue's byte
// bound waits (session.Outbox.WaitRoom), one request at a time, so requests
// wait for the connection rather than overflow its queue; it returns ctx's
// error or ErrClosed when either ends first, and wraps limits.ErrExceeded
// for a request that cannot be encoded.
func (p *Peer) sendRequest(ctx context.Context, m *transport.Message) error {
	select {
	case p.sending <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return transport.ErrClosed
	}
	defer func() { <-p.sending }()
	if err := p.out.WaitRoom(ctx); err != nil {
		if errors.Is(err, session.ErrOutboxClosed) {
			return transport.ErrClosed
		}
		return err
	}
	if err := p.send(m); err != nil {
		return fmt.Errorf("%w: request cannot be sent: %w", limits.ErrExceeded, err)
	}
	return nil
}

// maxUpdateParts bounds what one commit's updates may take, in parts, on
// the client before they are stored together.
const maxUpdateParts = 256 << 20

// clientLoop reads what the durable peer sends and stores received states
// (in arrival order, which is the durable node's commit order).
func (p *Peer) clientLoop() {
	ctx := context.Background()
	n := p.node
	// While a part of a large answer is stored, the next message is read
	// and decoded beside it (on a second core: the two take about as long
	// as each other), one message ahead at most, and handled after it, in
	// order. The loop owns that goroutine: it takes its result before it
	// goes on, and waits for it before it returns. Every return takes the
	// result first; only a panic while a part is stored leaves a read in
	// progress, and closing the connection ends it (the panic is not held
	// until the durable peer sends again).
	ahead := make(chan readResult, 1)
	reading := false
	defer func() {
		if reading {
			p.conn.Close()
			<-ahead
		}
	}()
	for {
		var r readResult
		if reading {
			r, reading = <-ahead, false
		} else {
			r = p.readMessage(ctx)
		}
		if r.recvErr != nil {
			p.shutdown(r.recvErr)
			return
		}
		if r.decodeErr != nil {
			p.log.Warn("malformed message from durable peer", "err", r.decodeErr)
			p.fault(transport.CodeProtocol, r.decodeErr)
			return
		}
		m := r.m
		if m.More && m.Response != nil && len(m.Response.States) >= readAheadStates {
			reading = true
			go func() { ahead <- p.readMessage(ctx) }()
		}
		switch {
		case m.Response != nil:
			p.receiveResponse(ctx, m.Response, m.More, r.checked)
		case len(m.Updates) > 0:
			// One durable commit (possibly in parts): stored together, so
			// local live queries report it as one change.
			p.parts = append(p.parts, m.Updates...)
			for _, u := range m.Updates {
				for i := range u.Items {
					p.partsN += estimateStateSize(&u.Items[i].State)
				}
			}
			if p.partsN > maxUpdateParts {
				p.fault(transport.CodeLimit, limits.Exceeded("update parts", maxUpdateParts, p.partsN, "one commit's updates (bytes)"))
				return
			}
			if m.More {
				continue
			}
			ups := p.parts
			p.parts, p.partsN = nil, 0
			var states, gone []entity.State
			for _, u := range ups {
				for _, it := range u.Items {
					if it.Gone {
						gone = append(gone, it.State)
					} else {
						states = append(states, it.State)
					}
				}
			}
			if err := n.storeSnapshots(ctx, p, states, gone); err != nil {
				p.log.Warn("refusing update from durable peer", "err", err)
			}
		case m.SubEnded != nil:
			if !n.remoteAggEnded(m.SubEnded) {
				n.remoteSubEnded(m.SubEnded)
			}
		case m.AggUpdate != nil:
			if err := n.remoteAggUpdate(p, m.AggUpdate); err != nil {
				p.log.Warn("malformed aggregate update from durable peer", "err", err)
				p.fault(transport.CodeProtocol, err)
				return
			}
		case m.Notice != nil:
			p.log.Warn("durable peer notice", "code", m.Notice.Code, "message", m.Notice.Message)
			if m.Notice.Code == transport.CodeUnauthenticated {
				if f := p.onExpired.Load(); f != nil {
					go (*f)()
				}
			}
		case m.Fault != nil:
			p.shutdown(errOf(m.Fault.Code, m.Fault.Kinds, m.Fault.Message))
			return
		default:
			p.fault(transport.CodeProtocol, fmt.Errorf("%w: unexpected message from the durable peer", transport.ErrProtocol))
			return
		}
	}
}

// receiveResponse stores a response's (part's) states and, on its last part,
// hands the whole response — states as ids only, unchanged, events — to the
// waiting request. The answer to a commit holds its entities' states after
// the commit, so the commit's events, though still pending here, are not
// applied again on top: a commit re-sent because its first answer was lost
// may be answered with a state that descends from it without naming it in
// its head. An entity the answer lists unchanged for a commit sent with
// expected heads (version 6) is stored at the state this node computed: the
// durable peer's state has that head, so it is that state.
func (p *Peer) receiveResponse(ctx context.Context, r *transport.Response, more bool, pre checked) {
	n := p.node
	if r.Error == "" && pre.err != nil {
		p.log.Warn("refusing states from durable peer", "err", pre.err)
		r.Error, r.Code, r.Kinds = pre.err.Error(), codeOf(pre.err), kindsOf(pre.err)
	} else if r.Error == "" {
		p.commitsMu.Lock()
		held, expect := p.commits[r.ID], p.expects[r.ID]
		p.commitsMu.Unlock()
		states := r.States
		var computed entitySet
		if len(expect) > 0 && len(r.Unchanged) > 0 {
			states = slices.Grow(slices.Clip(states), len(r.Unchanged))
			find := expectedIndex(expect)
			for _, eid := range r.Unchanged {
				if k := find(eid); k >= 0 && computed.add(eid) {
					states = append(states, expect[k])
				}
			}
		}
		done := 0
		if pre.ok {
			done = len(r.States)
		}
		if err := n.storeStates(ctx, p, states, nil, computed, held, done); err != nil {
			p.log.Warn("refusing states from durable peer", "err", err)
			r.Error, r.Code, r.Kinds = err.Error(), codeOf(err), kindsOf(err)
		}
	}
	keeps, rows := p.reqs.Keeps(r.ID)
	if len(r.States) == 0 || !keeps {
		// Nothing to leave out, or a request that needs its answer's
		// outcome only (session.Requests.StartOutcome drops the states).
		p.reqs.Deliver(r, more)
		return
	}
	// Stored: the request needs the states' ids and heads, and their
	// values only when it compares rows (requestRows: a LIMITed fetch finds
	// its window's last row by them), never their backends.
	part := &transport.Response{ID: r.ID, Unchanged: r.Unchanged, Events: r.Events, Error: r.Error, Code: r.Code, Kinds: r.Kinds}
	part.States = make([]entity.State, 0, len(r.States))
	for _, st := range r.States {
		kept := entity.State{ID: st.ID, Collection: st.Collection, Head: st.Head}
		if rows {
			kept.Values = st.Values
		}
		part.States = append(part.States, kept)
	}
	p.reqs.Deliver(part, more)
}

// readAheadStates is the size of an answer's part (in states) from which
// clientLoop reads the next message while it stores this one.
const readAheadStates = 64

// readResult is one message as clientLoop reads it: the message, or why
// none could be read (the connection failed) or decoded (the peer sent
// something malformed).
type readResult struct {
	m                  *transport.Message
	recvErr, decodeErr error
	checked            checked
}

// checked is what readMessage found checking a response's states
// (checkWire): ok when it checked them, err what it found wrong.
type checked struct {
	ok  bool
	err error
}

// readMessage reads and decodes the durable peer's next message. The states
// of a large part of an answer in id order (a query's, with nothing listed
// unchanged: storeStates drops no duplicate of it and adds nothing to it)
// are checked here too as they came (checkWire), so that while a part is
// stored the next one is checked beside it, on the read-ahead goroutine.
// The policy agent's ValidateState is not called here: storeStates calls it
// on the client loop, state by state in the order they are stored.
func (p *Peer) readMessage(ctx context.Context) readResult {
	frame, err := p.conn.Recv(ctx)
	if err != nil {
		return readResult{recvErr: err}
	}
	m, err := transport.Decode(frame)
	if err != nil {
		return readResult{decodeErr: err}
	}
	r := readResult{m: m}
	if resp := m.Response; resp != nil && resp.Error == "" && len(resp.States) >= readAheadStates && len(resp.Unchanged) == 0 && idsAscending(resp.States) {
		r.checked = checked{ok: true, err: p.node.checkWire(resp.States, entitySet{})}
	}
	return r
}

// OnCredentialsExpired sets f to be called, in its own goroutine, when the
// durable peer says this connection's credentials expired (until refreshed
// with RefreshCredentials, its requests are refused and its subscriptions
// pause).
func (p *Peer) OnCredentialsExpired(f func()) { p.onExpired.Store(&f) }

// storeSnapshots stores states received from the durable peer, re-applying
// this node's unsent commits on top (but for held: events the states are
// known to descend from), and notifies local live queries.
func (n *Node) storeSnapshots(ctx context.Context, p *Peer, states, gone []entity.State, held ...event.Event) error {
	return n.storeStates(ctx, p, states, gone, entitySet{}, held, 0)
}

// storeStates is storeSnapshots where the states of the entities in
// computed are the ones this node computed for its commit and the durable
// peer confirmed by their heads (receiveResponse): their backends were just
// encoded here, so they are not decoded again to be checked. The first
// checked states passed checkWire already (readMessage checks a large
// part of an answer as it decodes it); they are checked again when
// duplicates are dropped (the survivors are checked, as without it).
func (n *Node) storeStates(ctx context.Context, p *Peer, states, gone []entity.State, computed entitySet, held []event.Event, checked int) error {
	if len(states) == 0 && len(gone) == 0 {
		return nil
	}
	for _, g := range gone {
		if ValidateName(g.Collection) != nil {
			return fmt.Errorf("%w: malformed entity %s to drop", policy.ErrInvalid, g.ID)
		}
	}
	// Several subscriptions may carry the same entity: keep its last state.
	// (A part of a query's answer in id order, the common large case,
	// cannot: it is checked in one pass, without a map.)
	if len(states) > 1 && !idsAscending(states) {
		checked = 0
		last := make(map[id.EntityID]int, len(states))
		for i, st := range states {
			last[st.ID] = i
		}
		deduped := make([]entity.State, 0, len(last))
		for i, st := range states {
			if last[st.ID] == i {
				deduped = append(deduped, st)
			}
		}
		states = deduped
	}
	pinfo := policy.Peer{NodeID: p.remote.NodeID, Durable: p.remote.Durable}
	for i := range states {
		if i >= checked {
			if err := n.checkWire(states[i:i+1], computed); err != nil {
				return err
			}
		}
		if err := n.agent.ValidateState(ctx, pinfo, &states[i]); err != nil {
			return err
		}
	}
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	// Under commitMu, so no local commit lands between this and the write.
	n.upMu.Lock()
	pendingByEntity := map[id.EntityID][]event.Event{}
	heldIDs := make(map[id.EventID]bool, len(held))
	for i := range held {
		heldIDs[held[i].ID()] = true
	}
	for _, b := range append(slices.Clip(n.up.sending), n.up.outbox...) {
		for _, ev := range b {
			if len(heldIDs) > 0 && heldIDs[ev.ID()] {
				continue
			}
			pendingByEntity[ev.Entity] = append(pendingByEntity[ev.Entity], ev)
		}
	}
	n.upMu.Unlock()
	ahead, err := n.readAheadStates(ctx, states) // many states: read in one step (readahead.go)
	if err != nil {
		return err
	}
	batch, changes, slot := newStoreBatch(len(states) + len(gone))
	var coll storage.Collection // of the previous state, looked up once for a run of them
	for _, st := range states {
		if coll == nil || coll.Name() != st.Collection {
			if coll, err = n.readCollection(ctx, st.Collection); err != nil {
				return err
			}
		}
		var before *entity.State
		cur, err := ahead.state(ctx, coll, st.Collection, st.ID)
		switch {
		case err == nil && slot != nil:
			*slot = cur
			before, slot = slot, nil
		case err == nil:
			kept := cur
			before = &kept
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		next := st
		for _, ev := range pendingByEntity[st.ID] {
			// A state from the durable peer holds its entity's creation,
			// whatever its head: re-applying a pending genesis would put it
			// back into the head beside its own descendants.
			if next.Head.Contains(ev.ID()) || ev.IsGenesis() {
				continue
			}
			applied, err := applyEvent(&next, &ev)
			if err != nil {
				// It does not apply to the peer's state (it builds on a
				// commit the peer refused, say): the peer will refuse it
				// too, and its state stands.
				n.log.Warn("a commit not yet sent does not apply to the durable peer's state; keeping that state", "entity", st.ID.String(), "event", ev.ID().String(), "err", err)
				continue
			}
			next = applied
		}
		if before != nil && before.Head.Equal(next.Head) && !evictedStub(before) {
			continue
		}
		var expected event.Clock
		if before != nil {
			expected = before.Head
		}
		batch.States = append(batch.States, storage.StateWrite{State: next, Expected: expected})
		changes = append(changes, change{collection: next.Collection, before: before, after: next})
	}
	// Entities the durable peer says this node may no longer see (or that no
	// longer exist there) are dropped: kept as deleted, without their data.
	// A gone entry with a head is dropped only if still cached at that head.
	for _, g := range gone {
		coll, err := n.readCollection(ctx, g.Collection)
		if err != nil {
			return err
		}
		cur, err := getStored(ctx, coll, g.ID)
		if err != nil || evictedStub(&cur) || len(g.Head) > 0 && !cur.Head.Equal(g.Head) {
			continue
		}
		if pending := pendingByEntity[g.ID]; len(pending) > 0 && !slices.ContainsFunc(pending, func(e event.Event) bool { return !e.IsGenesis() }) {
			// Created offline and not sent yet: keep it until the outbox is sent.
			continue
		}
		evicted := entity.State{ID: g.ID, Collection: g.Collection, Head: cur.Head, Values: value.MakeFields([]value.Field{{Name: entity.DeletedProperty, Value: value.Bool(true)}})}
		batch.States = append(batch.States, storage.StateWrite{State: evicted, Expected: cur.Head})
		changes = append(changes, change{collection: g.Collection, before: &cur, after: evicted})
	}
	if len(batch.States) == 0 {
		return nil
	}
	if err := n.write(ctx, batch, changes); err != nil {
		return fmt.Errorf("ankurah: store states from durable peer: %w", err)
	}
	return nil
}

// checkWire checks states from the durable peer before any is stored: well
// formed, backends in their canonical encoding (but for the entities in
// computed, whose states this node encoded itself) and within this node's
// limits. It reads only the states and the node's configuration, so it may
// run beside a store (readMessage); the policy agent's ValidateState is
// storeStates' to call.
func (n *Node) checkWire(states []entity.State, computed entitySet) error {
	for i := range states {
		st := &states[i]
		if st.ID.IsZero() || ValidateName(st.Collection) != nil || st.Head.Validate() != nil || len(st.Head) == 0 {
			return fmt.Errorf("%w: malformed state for %s", policy.ErrInvalid, st.ID)
		}
		if !computed.has(st.ID) {
			if err := checkBackends(st); err != nil {
				return fmt.Errorf("%w: %w", policy.ErrInvalid, err)
			}
		}
		// The same limits as for this node's own commits: a durable peer
		// with other limits cannot fill this node past its own.
		if err := n.admitState(st); err != nil {
			return err
		}
	}
	return nil
}

// idsAscending reports whether states are in strictly ascending id order
// (so no entity appears twice).
func idsAscending(states []entity.State) bool {
	for i := 1; i < len(states); i++ {
		if states[i-1].ID.Compare(states[i].ID) >= 0 {
			return false
		}
	}
	return true
}

// storedOne is what storeStates makes to store one state (a commit's
// answer, the common case), in one allocation: the batch, its state, the
// change, and room for the state it replaces.
type storedOne struct {
	batch   storage.Batch
	states  [1]storage.StateWrite
	changes [1]change
	before  entity.State
}

// newStoreBatch returns an empty batch and change list for n states, and
// for one state room for the state it replaces (nil otherwise).
func newStoreBatch(n int) (*storage.Batch, []change, *entity.State) {
	if n == 1 {
		one := new(storedOne)
		one.batch.States = one.states[:0]
		return &one.batch, one.changes[:0], &one.before
	}
	return &storage.Batch{States: make([]storage.StateWrite, 0, n)}, make([]change, 0, n), nil
}

// evictedStub reports whether a cached state is what storeSnapshots keeps
// of an entity the durable peer no longer gives this node: deleted, without
// data, at the head it had. The peer's state at that same head is not the
// same state: it is stored over the stub.
func evictedStub(st *entity.State) bool { return st.Deleted() && len(st.Backends) == 0 }

// drainOutbox sends the commits made offline, in order, until the outbox
// is empty: a commit made offline while the first ones were being sent is
// sent on this connection too. While it runs, new commits wait for it
// (awaitDrain), so none overtakes an offline commit it builds on.
func (n *Node) drainOutbox(ctx context.Context, p *Peer) {
	n.drainMu.Lock() // one drain at a time, so the outbox leaves in order
	defer n.drainMu.Unlock()
drain:
	for {
		n.upMu.Lock()
		outbox := n.up.outbox
		n.up.outbox = nil
		n.up.setDraining(len(outbox) > 0)
		n.up.sending = outbox // taken from the outbox, still pending
		n.upMu.Unlock()
		if len(outbox) == 0 {
			break
		}
		for i, evs := range outbox {
			n.upMu.Lock()
			n.up.sending = outbox[i:] // still pending: states received meanwhile re-apply them
			n.upMu.Unlock()
			_, err := p.requestOutcome(ctx, &transport.Request{Commit: &transport.CommitReq{Events: evs}})
			if err == nil {
				n.unpersistOutbox(ctx, evs)
				continue
			}
			if !isRefusal(err) {
				// Not a verdict on the commit (disconnected, overloaded,
				// timed out): keep it and the ones after it for next time.
				n.upMu.Lock()
				n.up.outbox = append(outbox[i:], n.up.outbox...)
				if n.up.peer == p || n.up.peer == nil {
					// (A newer connection's resync drains next: commits
					// keep waiting for it.)
					n.up.setDraining(false)
				}
				n.up.sending = nil
				n.upMu.Unlock()
				n.log.Warn("sending commits made offline failed; will retry on the next connection", "err", err)
				break drain
			}
			n.log.Error("durable peer refused a commit made offline; refreshing its entities", "err", err)
			// The refused commit is no longer pending: the refresh must not
			// keep or re-apply it.
			n.upMu.Lock()
			n.up.sending = outbox[i+1:]
			n.upMu.Unlock()
			n.refresh(ctx, p, evs)
		}
	}
}

// commitRemote is an ephemeral node's commit: forwarded to the durable peer
// and complete when it accepted (the accepted states are stored locally
// before this returns); a refusal leaves this node unchanged. With no
// durable peer connected, the commit applies locally and is sent on the next
// connection.
//
// current names the entities whose events must be made on the peer's
// current state (CommitReq.Current), sent to a peer of version 9 or later;
// an older peer was never asked to skip the edit's read (refreshEdit).
func (n *Node) commitRemote(ctx context.Context, cdata any, evs []event.Event, current []id.EntityID) error {
	for i := range evs {
		if err := n.admitEvent(&evs[i]); err != nil {
			return err
		}
	}
	queued, err := n.awaitDrain(ctx)
	if err != nil {
		return err
	}
	if p := n.upstreamPeer(); p != nil && !queued {
		out := newCommitMessage(evs)
		req := out.Request.Commit
		var expect []entity.State
		if p.remote.Version >= commitAnswerVersion {
			expect, req.Expect = n.expectedStates(ctx, evs)
		}
		if p.remote.Version >= currentEditVersion {
			req.Current = current
		}
		_, err := p.requestExpecting(ctx, out, expect)
		if err == nil || !isDisconnect(err) {
			return err
		}
	}
	if err := n.fitsOneFrame(evs); err != nil {
		return err // it could never be sent
	}
	if err := n.applyLocal(ctx, cdata, evs, true); err != nil {
		return err
	}
	n.upMu.Lock()
	// Queued behind a drain that has finished meanwhile, while connected:
	// send it now rather than on the next connection.
	p := n.up.peer
	kick := queued && !n.up.draining && p != nil
	if kick {
		n.up.setDraining(true)
	}
	n.upMu.Unlock()
	if kick && !n.spawn(func() { n.drainOutbox(context.WithoutCancel(ctx), p) }) {
		n.upMu.Lock()
		n.up.setDraining(false)
		n.upMu.Unlock()
	}
	return nil
}

// newCommitMessage returns the message of a commit request of evs, made in
// one allocation (the envelope, the request, the commit).
func newCommitMessage(evs []event.Event) *transport.Message {
	f := new(struct {
		m transport.Message
		r transport.Request
		c transport.CommitReq
	})
	f.c.Events = evs
	f.r.Commit = &f.c
	f.m.Request = &f.r
	return &f.m
}

// commitAnswerVersion is the protocol version from which a commit names the
// heads its sender computed and the answer leaves out the states it holds
// (CommitReq.Expect).
const commitAnswerVersion = 6

// conditionalGetVersion is the protocol version from which a get names the
// heads its sender holds and the answer leaves out the states still at
// them (GetReq.Known).
const conditionalGetVersion = 8

// currentEditVersion is the protocol version from which a commit names the
// entities whose events must be made on their current heads
// (CommitReq.Current), refused as stale otherwise: an ephemeral node then
// edits its own copy without reading the entity first.
const currentEditVersion = 9

// expectedStates computes, for the entities of a commit about to be sent,
// the state each has on the durable peer when nothing else is merged in
// there: the cached state its first event was made on, with the commit's
// events applied — the state is a function of the events it holds, so a
// peer whose resulting head is the same holds the same state. It returns
// those states (one per entity, in the order the events first name them)
// and their heads, for CommitReq.Expect. An entity whose
// cached state is not the one its event was made on (the cache moved since
// the edit, or holds only the stub of an entity the peer no longer gives
// this node), or whose event does not apply, is left out: its state comes
// with the answer.
func (n *Node) expectedStates(ctx context.Context, evs []event.Event) ([]entity.State, []transport.Known) {
	// One record per entity, in the order the events name them; found by
	// a search when they are few (a commit of one entity makes no map for
	// it), by an index when many.
	type expecting struct {
		eid      id.EntityID
		st       entity.State // the state computed so far, when ok
		ok, skip bool
		created  bool
		bs       backendSet // st's decoded backends, applied in place
		applied  int        // events applied to bs since decoded
	}
	var one [1]expecting // a commit of one event needs one record
	ents := one[:0]
	var index map[id.EntityID]int
	switch {
	case len(evs) > entitySetSlice:
		// As many records as events at most (a bulk commit creates one
		// entity an event): one allocation, not a doubling per append.
		ents = make([]expecting, 0, len(evs))
		index = make(map[id.EntityID]int, len(evs))
	case len(evs) > 1:
		ents = make([]expecting, 0, len(evs))
	}
	find := func(eid id.EntityID) int {
		if index != nil {
			if k, ok := index[eid]; ok {
				return k
			}
			return -1
		}
		for k := range ents {
			if ents[k].eid == eid {
				return k
			}
		}
		return -1
	}
	for i := range evs {
		ev := &evs[i]
		k := find(ev.Entity)
		var cur *entity.State
		switch {
		case k < 0:
			ents = append(ents, expecting{eid: ev.Entity})
			k = len(ents) - 1
			if index != nil {
				index[ev.Entity] = k
			}
			if !ev.IsGenesis() {
				coll, err := n.readCollection(ctx, ev.Collection)
				if err != nil {
					ents[k].skip = true
					continue
				}
				st, err := getStored(ctx, coll, ev.Entity) // only read
				if err != nil || evictedStub(&st) || st.Collection != ev.Collection {
					ents[k].skip = true
					continue
				}
				cur = &st
			}
		case ents[k].skip:
			continue
		case ents[k].ok:
			cur = &ents[k].st
		}
		e := &ents[k]
		if cur != nil && !cur.Head.Equal(ev.Parent) || cur == nil && !ev.IsGenesis() {
			e.skip = true
			continue
		}
		// The decoded backends the edit left in the node's cache (or those
		// of the previous event), applied in place.
		if !e.ok && cur != nil {
			e.bs, e.applied, _ = n.cache.take(ev.Collection, ev.Entity, cur.Head)
		}
		if ev.IsGenesis() {
			e.created = true
		}
		next, bs, err := applyEventTo(cur, e.bs, ev)
		if err != nil {
			e.skip = true
			continue
		}
		if e.bs == nil {
			e.applied = 0 // decoded from cur
		}
		e.bs, e.applied, e.st, e.ok = bs, e.applied+1, next, true
	}
	var out []entity.State
	var heads []transport.Known
	if len(ents) == 1 {
		both := new(struct {
			states [1]entity.State
			heads  [1]transport.Known
		})
		out, heads = both.states[:0], both.heads[:0]
	} else {
		out = make([]entity.State, 0, len(ents))
		heads = make([]transport.Known, 0, len(ents))
	}
	for k := range ents {
		e := &ents[k]
		if !e.ok || e.skip {
			continue
		}
		out = append(out, e.st)
		heads = append(heads, transport.Known{Entity: e.eid, Head: e.st.Head})
		// Cached at the head computed: a state is a function of its head,
		// so the next edit of the entity (once the answer stored that
		// state) forks them instead of decoding the state. Creations are
		// not cached (a bulk load would only churn the cache).
		if !e.created && e.applied < reloadAfter {
			n.cache.put(e.st.Collection, e.eid, e.st.Head, e.bs, e.applied)
		}
	}
	return out, heads
}

// expectedIndex returns a lookup of the states expectedStates computed by
// entity id: a search when they are few, an index when many.
func expectedIndex(expect []entity.State) func(id.EntityID) int {
	if len(expect) <= entitySetSlice {
		return func(eid id.EntityID) int {
			for k := range expect {
				if expect[k].ID == eid {
					return k
				}
			}
			return -1
		}
	}
	index := make(map[id.EntityID]int, len(expect))
	for k := range expect {
		index[expect[k].ID] = k
	}
	return func(eid id.EntityID) int {
		if k, ok := index[eid]; ok {
			return k
		}
		return -1
	}
}

// awaitDrain holds a commit while the commits made offline are being sent
// to a connected durable peer: they go first (a new commit may build on
// them), and a writer faster than the peer's answers must be slowed down
// rather than fill the outbox faster than it drains — otherwise the drain,
// which takes what was added meanwhile too, would never end and the
// connection would never finish resuming. It returns whether the commit
// must still queue behind a drain (the peer went away meanwhile), or ctx's
// error if ctx ended first; nothing has been applied then.
func (n *Node) awaitDrain(ctx context.Context) (queued bool, err error) {
	for {
		n.upMu.Lock()
		queued, wait, p := n.up.draining, n.up.drained, n.up.peer
		n.upMu.Unlock()
		if !queued || p == nil {
			return queued, nil
		}
		select {
		case <-wait:
		case <-p.Done():
			// Disconnected: the drain stops with an error and hands back
			// what it did not send; look again.
			select {
			case <-wait:
			case <-ctx.Done():
				return false, fmt.Errorf("ankurah: commit waiting for the commits made offline to be sent: %w", ctx.Err())
			}
		case <-ctx.Done():
			return false, fmt.Errorf("ankurah: commit waiting for the commits made offline to be sent: %w", ctx.Err())
		}
	}
}

// setDraining records whether the outbox is being sent; commits wait on
// drained while it is (awaitDrain). Called under upMu.
func (u *upstream) setDraining(v bool) {
	switch {
	case v && !u.draining:
		u.drained = make(chan struct{})
	case !v && u.draining:
		close(u.drained)
	}
	u.draining = v
}

// fitsOneFrame refuses a commit too large to ever be sent as one request.
func (n *Node) fitsOneFrame(evs []event.Event) error {
	size := 0
	for i := range evs {
		for name, ops := range evs[i].Operations {
			size += len(name) + len(ops)
		}
		size += 64 + 34*len(evs[i].Parent)
	}
	if size < transport.MaxFrameSize/2 {
		return nil
	}
	_, err := transport.Encode(&transport.Message{Request: &transport.Request{ID: 1 << 62, Commit: &transport.CommitReq{Events: evs}}})
	if err != nil {
		return fmt.Errorf("%w: commit of %d events cannot be sent as one request: %w", limits.ErrExceeded, len(evs), err)
	}
	return nil
}

// applyLocal applies events to the local cache without a DAG comparison:
// the cache holds states, not full histories, and backends commute. With
// outbox set, the batch also keeps the events' outbox record.
func (n *Node) applyLocal(ctx context.Context, cdata any, evs []event.Event, outbox bool) error {
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	if n.closed {
		// Close has returned or is running: a node opened next on this
		// storage may have read the outbox already, and would not send this.
		return fmt.Errorf("%w: the node closed before the commit was stored", ErrClosed)
	}
	batch := &storage.Batch{Events: evs}
	if outbox {
		rec, err := n.outboxRecord(evs)
		if err != nil {
			return err
		}
		if coll, err := n.readCollection(ctx, OutboxCollection); err == nil {
			if _, err := coll.GetState(ctx, rec.State.ID); err == nil {
				outbox = false // already kept (the same commit again)
			}
		}
		if outbox {
			batch.States = append(batch.States, rec)
		}
	}
	cur := map[id.EntityID]*entity.State{}
	before := map[id.EntityID]*entity.State{}
	var order []id.EntityID
	for i := range evs {
		ev := &evs[i]
		st, ok := cur[ev.Entity]
		if !ok {
			coll, err := n.readCollection(ctx, ev.Collection)
			if err != nil {
				return err
			}
			s, err := coll.GetState(ctx, ev.Entity)
			switch {
			case err == nil:
				st = &s
				b := s.Clone()
				before[ev.Entity] = &b
			case !errors.Is(err, storage.ErrNotFound):
				return err
			}
			order = append(order, ev.Entity)
		}
		next, err := applyEvent(st, ev)
		if err != nil {
			return err
		}
		if err := n.agent.CheckEvent(ctx, cdata, ev, st, &next); err != nil {
			return fmt.Errorf("ankurah: commit to %q refused: %w", ev.Collection, err)
		}
		cur[ev.Entity] = &next
	}
	var changes []change
	for _, eid := range order {
		if err := n.admitState(cur[eid]); err != nil {
			return err
		}
		var expected event.Clock
		if b := before[eid]; b != nil {
			expected = b.Head
		}
		batch.States = append(batch.States, storage.StateWrite{State: *cur[eid], Expected: expected})
		changes = append(changes, change{collection: cur[eid].Collection, before: before[eid], after: *cur[eid]})
	}
	if err := n.write(ctx, batch, changes); err != nil {
		return fmt.Errorf("ankurah: commit: %w", err)
	}
	if outbox {
		// Still under commitMu: states received from the durable peer
		// (storeSnapshots) see this commit as pending and re-apply it.
		n.upMu.Lock()
		n.up.outbox = append(n.up.outbox, evs)
		n.upMu.Unlock()
	}
	return nil
}

// subscribeRemote (re)starts a subscription on the durable peer; the initial
// states it lacks are stored locally when it returns. Known entities the
// peer neither sent nor reported unchanged are refreshed (they left the
// result set or were deleted while this node was away).
func (n *Node) subscribeRemote(ctx context.Context, p *Peer, sub uint64, collection string, b *query.Bound, incs []includeSpec, known []*View) error {
	known = n.boundKnown(known)
	req := &transport.SubscribeReq{Sub: sub, Collection: collection, Query: b.String(), Known: knownOf(known)}
	if b.After != nil {
		if p.remote.Version < liveCursorVersion {
			return fmt.Errorf("%w: the durable peer speaks protocol version %d (a live query after a cursor needs %d)", ErrCursorUnsupported, p.remote.Version, liveCursorVersion)
		}
		req.After = b.After.Encode()
	}
	if p.remote.Version >= includeVersion {
		// An older peer would refuse the field; without it the includes
		// are read from what this node caches.
		req.Includes = wireIncludes(incs)
	}
	send := p.request
	if len(known) == 0 {
		send = p.requestOutcome // nothing to confirm: the states are stored as they come
	}
	resp, err := send(ctx, &transport.Request{Subscribe: req})
	if err != nil {
		return err
	}
	if stale := unconfirmed(resp, known); len(stale) > 0 {
		// Held here, matching here, but neither sent nor confirmed: deleted,
		// changed, or no longer readable there. With a LIMIT it may also
		// have moved past the durable peer's first rows; known holds at most
		// the live query's own rows, so asking costs at most LIMIT entities,
		// and a row deleted while this node was away leaves its window.
		return n.getOrEvict(ctx, p, collection, stale)
	}
	return nil
}

// localMatches returns the cached entities a selection matches here,
// ignoring its LIMIT: what this node can tell the durable peer it knows.
func (c *Context) localMatches(ctx context.Context, collection string, b *query.Bound) []*View {
	all := &query.Bound{Where: b.Where, OrderBy: b.OrderBy, Limit: -1, After: b.After}
	states, err := c.fetchStates(ctx, collection, all)
	if err != nil {
		return nil
	}
	out := make([]*View, len(states))
	for i, s := range states {
		out[i] = newView(s)
	}
	return out
}

// localRows returns the cached entities a selection gives here, LIMIT
// included: the rows a live query re-pointed to it starts from.
func (c *Context) localRows(ctx context.Context, collection string, b *query.Bound) []*View {
	if !b.HasLimit() {
		return c.localMatches(ctx, collection, b)
	}
	states, err := c.fetchStates(ctx, collection, b)
	if err != nil {
		return nil
	}
	out := make([]*View, len(states))
	for i, s := range states {
		out[i] = newView(s)
	}
	return out
}

// queryRemote is an ephemeral node's live query: a subscription on the
// durable peer feeding the local cache, and a local live query over it.
func (c *Context) queryRemote(ctx context.Context, collection string, b *query.Bound, incs []includeSpec) (*LiveQuery, error) {
	n := c.node
	lq, err := c.queryWithSink(ctx, collection, b, incs, nil, nil)
	if err != nil {
		return nil, err
	}
	// Registered before looking for a peer: a connection that completes in
	// between re-subscribes it, and one that is already up is asked below.
	n.upMu.Lock()
	n.up.nextSub++
	sub := n.up.nextSub
	lq.remoteSub = sub
	lq.onClose = func() {
		n.upMu.Lock()
		delete(n.up.subs, sub)
		n.upMu.Unlock()
		if p := n.upstreamPeer(); p != nil {
			u := sub
			_, _ = p.request(context.Background(), &transport.Request{Unsubscribe: &u})
		}
	}
	n.up.subs[sub] = lq
	n.upMu.Unlock()
	if p := n.upstreamPeer(); p != nil {
		// The durable peer's initial states are stored (and reach lq) before this returns.
		if err := n.subscribeRemote(ctx, p, sub, collection, b, incs, lq.Items()); err != nil && !isDisconnect(err) {
			lq.Close()
			return nil, err
		}
	}
	return lq, nil
}

// remoteGet asks the durable peer for entities first (storing what it answers) when this
// node is ephemeral and connected; errors other than disconnection are returned.
func (c *Context) remoteGet(ctx context.Context, collection string, ids ...id.EntityID) error {
	n := c.node
	p := n.upstreamPeer()
	if p == nil || len(ids) == 0 {
		return nil
	}
	if err := n.getOrEvict(ctx, p, collection, ids); err != nil && !isDisconnect(err) {
		return err
	}
	return nil
}

// getCurrent reads an entity from the durable peer into this node's
// storage, like remoteGet, but reports when no peer answered (none
// connected, or the connection dropped) instead of reading nothing.
func (n *Node) getCurrent(ctx context.Context, collection string, eid id.EntityID) error {
	p := n.upstreamPeer()
	if p == nil {
		return fmt.Errorf("%w: no durable peer connected", transport.ErrClosed)
	}
	return n.getOrEvict(ctx, p, collection, []id.EntityID{eid})
}

func (c *Context) remoteFetch(ctx context.Context, collection string, b *query.Bound) error {
	n := c.node
	p := n.upstreamPeer()
	if p == nil {
		return nil
	}
	req := &transport.FetchReq{Collection: collection, Query: b.String()}
	if b.After != nil {
		if p.remote.Version < cursorVersion {
			return fmt.Errorf("%w: the durable peer speaks protocol version %d (a fetch after a cursor needs %d)", ErrCursorUnsupported, p.remote.Version, cursorVersion)
		}
		req.After = b.After.Encode()
	}
	known := c.localMatches(ctx, collection, b)
	known = n.boundKnown(known)
	req.Known = knownOf(known)
	// The answer's states are stored as they arrive; what the fetch
	// compares afterwards is only the entities this node held: their ids
	// (unconfirmed) and, for a LIMITed fetch, the window's rows
	// (staleInWindow). Holding none, it keeps nothing.
	send := p.request
	switch {
	case len(known) == 0:
		send = p.requestOutcome
	case b.HasLimit():
		send = p.requestRows
	}
	resp, err := send(ctx, &transport.Request{Fetch: req})
	if err != nil {
		if isDisconnect(err) {
			return nil
		}
		return err
	}
	stale := unconfirmed(resp, known)
	if b.HasLimit() {
		stale = staleInWindow(b, resp, known, stale)
	}
	if len(stale) > 0 {
		if err := n.getOrEvict(ctx, p, collection, stale); err != nil && !isDisconnect(err) {
			return err
		}
	}
	return nil
}

// dropCache empties an ephemeral node's storage and its live queries'
// results, keeping the outbox: the records of commits not yet sent stay
// (they are sent to the new system, which refuses those building on
// entities it does not have), so a restart after the clear still sends them.
func (n *Node) dropCache(ctx context.Context) error {
	cl, ok := n.engine.(storage.Clearer)
	if !ok {
		return fmt.Errorf("ankurah: durable peer belongs to a different system and %T cannot drop the cached entities (it does not implement storage.Clearer)", n.engine)
	}
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	if kc, ok := cl.(storage.KeepingClearer); ok {
		// The outbox's rows are never deleted: a crash during the clear
		// loses no commit.
		if err := kc.ClearKeeping(ctx, OutboxCollection); err != nil {
			return fmt.Errorf("ankurah: drop cache: %w", err)
		}
	} else if err := n.clearRewritingOutbox(ctx, cl); err != nil {
		return err
	}
	// Readers that started before the clear cannot reconcile with it: they
	// read again.
	n.clog.mu.Lock()
	defer n.clog.mu.Unlock()
	n.clog.barrier()
	for _, lq := range n.reactor.indexed() {
		lq.mu.Lock()
		lq.diffAndPublish(ctx, nil, nil)
		lq.mu.Unlock()
	}
	return nil
}

// clearRewritingOutbox clears an engine that cannot keep a collection
// through the clear: it reads the outbox's records, clears, and writes them
// back in one batch. A crash between the clear and that write loses the
// records (the commits stay in memory, sent on this connection); engines
// implementing storage.KeepingClearer have no such window.
func (n *Node) clearRewritingOutbox(ctx context.Context, cl storage.Clearer) error {
	var keep []storage.StateWrite
	if coll, err := n.engine.Collection(ctx, OutboxCollection); err == nil {
		b, err := query.ParseBound(`"_deleted" IS NULL`)
		if err != nil {
			return err
		}
		sts, err := coll.FetchStates(ctx, b)
		if err != nil {
			return fmt.Errorf("ankurah: drop cache: read the outbox: %w", err)
		}
		for _, st := range sts {
			keep = append(keep, storage.StateWrite{State: st})
		}
	}
	if err := cl.Clear(ctx); err != nil {
		return fmt.Errorf("ankurah: drop cache: %w", err)
	}
	if len(keep) == 0 {
		return nil
	}
	if err := n.engine.Apply(ctx, &storage.Batch{States: keep}); err != nil {
		return fmt.Errorf("ankurah: drop cache: keep the outbox: %w", err)
	}
	return nil
}

// followed reports whether a live subscription on the connected durable peer
// keeps the entity current in this node's cache.
func (n *Node) followed(eid id.EntityID) bool {
	n.upMu.Lock()
	if n.up.peer == nil {
		n.upMu.Unlock()
		return false
	}
	subs := make([]*LiveQuery, 0, len(n.up.subs))
	for _, lq := range n.up.subs {
		subs = append(subs, lq)
	}
	n.upMu.Unlock()
	for _, lq := range subs {
		if lq.holds(eid) {
			return true
		}
	}
	return false
}

// boundKnown keeps the known entities a request may carry (limits.MaxIDs):
// those beyond are simply sent again by the durable peer if they match.
func (n *Node) boundKnown(known []*View) []*View {
	if len(known) > n.cfg.limits.MaxIDs {
		return known[:n.cfg.limits.MaxIDs]
	}
	return known
}

// knownOf lists cached entities with their heads, for the durable peer.
func knownOf(vs []*View) []transport.Known {
	out := make([]transport.Known, len(vs))
	for i, v := range vs {
		out[i] = transport.Known{Entity: v.state.ID, Head: v.state.Head}
	}
	return out
}

// unconfirmed lists the known entities a response neither sent nor
// reported unchanged.
func unconfirmed(resp *transport.Response, known []*View) []id.EntityID {
	if len(known) == 0 {
		return nil
	}
	seen := make(map[id.EntityID]bool, len(resp.States)+len(resp.Unchanged))
	for _, s := range resp.States {
		seen[s.ID] = true
	}
	for _, u := range resp.Unchanged {
		seen[u] = true
	}
	var stale []id.EntityID
	for _, v := range known {
		if !seen[v.state.ID] {
			stale = append(stale, v.state.ID)
		}
	}
	return stale
}

// staleInWindow narrows the cached entities a LIMITed answer did not
// confirm to those inside the window it covers: the rows after the cursor
// (all rows without one) up to the answer's last row in ORDER BY, or all of
// them when the answer is shorter than the LIMIT. A cached row the server
// would have returned there but did not is deleted or no longer matches;
// rows past the window say nothing.
func staleInWindow(b *query.Bound, resp *transport.Response, known []*View, stale []id.EntityID) []id.EntityID {
	n := len(resp.States) + len(resp.Unchanged)
	if int64(n) < b.Limit {
		return stale
	}
	values := make(map[id.EntityID]value.Fields, n)
	for i := range resp.States {
		values[resp.States[i].ID] = resp.States[i].Values
	}
	for _, v := range known {
		if _, ok := values[v.state.ID]; !ok {
			values[v.state.ID] = v.state.Values
		}
	}
	// The answer's last row: the greatest of its states and of the known
	// entities it listed unchanged.
	var last id.EntityID
	var lastVals value.Fields
	found := false
	consider := func(eid id.EntityID) {
		vals, ok := values[eid]
		if !ok {
			return
		}
		if !found || query.CompareRows(b.OrderBy, vals, eid, lastVals, last) > 0 {
			last, lastVals, found = eid, vals, true
		}
	}
	for i := range resp.States {
		consider(resp.States[i].ID)
	}
	for _, eid := range resp.Unchanged {
		consider(eid)
	}
	if !found {
		return stale
	}
	out := stale[:0]
	for _, eid := range stale {
		if query.CompareRows(b.OrderBy, values[eid], eid, lastVals, last) < 0 {
			out = append(out, eid)
		}
	}
	return out
}

// remoteSubEnded records that the durable peer ended a subscription: the
// live query keeps its last result, stops following the peer, and reports
// why through Err. (A reconnection subscribes it again.)
func (n *Node) remoteSubEnded(e *transport.SubEnded) {
	err := errOf(e.Code, e.Kinds, e.Message)
	n.upMu.Lock()
	lq := n.up.subs[e.Sub]
	n.upMu.Unlock()
	n.log.Error("durable peer ended a subscription", "sub", e.Sub, "err", err)
	if lq != nil {
		lq.mu.Lock()
		lq.remoteErr = err
		lq.mu.Unlock()
	}
}
