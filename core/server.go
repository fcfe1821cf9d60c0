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
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Accept serves a connection from another node (usually an ephemeral
// client) until it closes: the handshake, then requests and subscription
// updates. It returns why the connection ended.
//
// One goroutine reads the connection and admits requests into a queue of at
// most limits.MaxInFlight (more are answered at once with ErrBusy); one
// worker serves them in order, so reading — credential refreshes, faults,
// the transport's keepalive — does not wait for a slow request. (A commit
// that arrives while the worker is idle, on a node whose storage no other
// server shares, is served by the reader itself: see readLoop.) Accept
// returns after both have ended.
func (n *Node) Accept(ctx context.Context, conn transport.Connection) error {
	hctx, cancel := context.WithTimeout(ctx, helloTimeout)
	frame, err := conn.Recv(hctx)
	cancel()
	if err != nil {
		sendFault(conn, transport.CodeProtocol, fmt.Errorf("%w: no hello within %s: %w", transport.ErrProtocol, helloTimeout, err))
		return fmt.Errorf("ankurah: handshake: %w", err)
	}
	m, err := transport.Decode(frame)
	if err == nil && m.Hello == nil {
		err = fmt.Errorf("%w: first message must be a hello", transport.ErrProtocol)
	}
	if err != nil {
		sendFault(conn, codeOf(err), err)
		return err
	}
	if m.Hello.Version < transport.MinProtocolVersion || m.Hello.Version > transport.ProtocolVersion {
		err := fmt.Errorf("%w: peer speaks protocol version %d, this node speaks %d (and serves %d to %d)", transport.ErrVersion, m.Hello.Version, transport.ProtocolVersion, transport.MinProtocolVersion, transport.ProtocolVersion)
		sendFault(conn, transport.CodeVersion, err)
		return err
	}
	if n.isClosed.Load() {
		sendFault(conn, transport.CodeClosed, fmt.Errorf("%w: node shutting down", ErrClosed))
		return ErrClosed
	}
	pinfo := policy.Peer{NodeID: m.Hello.NodeID, Durable: m.Hello.Durable}
	cdata, err := n.agent.Authenticate(ctx, pinfo, m.Hello.Credentials)
	if err != nil {
		err = fmt.Errorf("%w: %w", policy.ErrUnauthenticated, err)
		sendFault(conn, transport.CodeUnauthenticated, err)
		return err
	}
	p := newPeer(n, conn, *m.Hello)
	p.setCredentials(cdata)
	_ = p.enqueue(&transport.Message{Hello: &transport.Hello{NodeID: n.id.String(), Durable: n.cfg.role == Durable, SystemID: n.cfg.systemID, Version: m.Hello.Version}}) // the version both speak

	// The worker's context ends with the connection, so a request being
	// served when the peer leaves stops early.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	reqs := make(chan queuedRequest, n.cfg.limits.MaxInFlight)
	worker := make(chan struct{})
	if !p.spawn(func() {
		defer close(worker)
		for {
			select {
			case q := <-reqs:
				p.enqueueResponse(p.serveObserved(wctx, q.r, false))
				p.reqBytes.Add(-int64(q.size))
				p.queued.Add(-1)
			case <-p.done:
				wcancel() // a commit the reader serves stops with the connection
				return
			}
		}
	}) {
		sendFault(conn, transport.CodeClosed, fmt.Errorf("%w: node shutting down", ErrClosed))
		return ErrClosed
	}
	err = p.readLoop(ctx, wctx, pinfo, reqs)
	wcancel()
	<-worker
	return err
}

// queuedRequest is a request waiting for the connection's worker, with the
// size of its frame (held against the connection's budget of queued bytes).
type queuedRequest struct {
	r    *transport.Request
	size int
}

// readLoop reads the client's messages until the connection ends, handing
// requests to the connection's worker in order.
//
// A commit that arrives while the worker has nothing to do is served on
// the reader itself (wctx is the worker's context, which ends with the
// connection, and Close waits for it as for the worker): nothing is ahead of
// it, so the order of answers is kept, and it saves waking the worker — the
// largest single hand-off between a client's commit and its subscribers'
// notifications. Other requests (a subscription's or a fetch's answer may
// be long) go to the worker, and so does every commit on shared storage
// (its conflicts retry until its context ends, and it waits for the feed),
// so the reader goes on reading meanwhile.
func (p *Peer) readLoop(ctx, wctx context.Context, pinfo policy.Peer, reqs chan<- queuedRequest) error {
	n := p.node
	for {
		frame, err := p.conn.Recv(ctx)
		if err != nil {
			p.shutdown(err)
			return err
		}
		m, err := transport.Decode(frame)
		if err != nil {
			p.log.WarnContext(ctx, "refusing malformed message", "err", err)
			p.fault(codeOf(err), err)
			return err
		}
		switch {
		case m.Request != nil:
			// Requests wait by count (max-in-flight) and by bytes (as much as
			// the connection's outgoing queue may hold, peer-queue-bytes).
			if queued := p.reqBytes.Load(); queued > 0 && queued+int64(len(frame)) > int64(n.cfg.limits.PeerQueueBytes) {
				p.enqueueResponse(fail(m.Request.ID, fmt.Errorf("%w: %d bytes of requests already waiting on this connection (limit peer-queue-bytes = %d); retry when some are answered", ErrBusy, queued, n.cfg.limits.PeerQueueBytes)))
				continue
			}
			if m.Request.Commit != nil && n.feed == nil && p.queued.Load() == 0 && n.enter() {
				// Only the reader adds to queued: at 0 the worker has
				// served everything and waits. The answer is sent here too
				// (serve, onReader).
				p.enqueueResponse(p.serveObserved(wctx, m.Request, true))
				n.wg.Done()
				continue
			}
			p.reqBytes.Add(int64(len(frame)))
			p.queued.Add(1)
			select {
			case reqs <- queuedRequest{m.Request, len(frame)}:
			default:
				p.queued.Add(-1)
				p.reqBytes.Add(-int64(len(frame)))
				l := n.cfg.limits.MaxInFlight
				p.enqueueResponse(fail(m.Request.ID, fmt.Errorf("%w: %d requests already in flight on this connection (limit max-in-flight = %d); retry when some are answered", ErrBusy, l, l)))
			}
		case m.Credentials != nil:
			cd, err := n.agent.Authenticate(ctx, pinfo, m.Credentials)
			if err != nil {
				err = fmt.Errorf("%w: refreshed credentials: %w", policy.ErrUnauthenticated, err)
				p.fault(transport.CodeUnauthenticated, err)
				return err
			}
			// Updates wait until every subscription is re-run with the new
			// identity (a narrowed one must not receive what it no longer
			// may read meanwhile).
			p.refreshing.Store(true)
			p.setCredentials(cd)
			p.reauthorize(ctx)
		case m.Fault != nil:
			err := errOf(m.Fault.Code, m.Fault.Kinds, m.Fault.Message)
			p.shutdown(err)
			return err
		default:
			err := fmt.Errorf("%w: unexpected message from a client", transport.ErrProtocol)
			p.fault(transport.CodeProtocol, err)
			return err
		}
	}
}

func sendFault(conn transport.Connection, code transport.Code, err error) {
	frame, _ := transport.Encode(&transport.Message{Fault: &transport.Fault{Code: code, Message: err.Error(), Kinds: kindsOf(err)}})
	ctx, cancel := context.WithTimeout(context.Background(), faultTimeout)
	_ = conn.Send(ctx, frame)
	cancel()
	conn.Close()
}

func (p *Peer) enqueueResponse(r *transport.Response) {
	if r == nil {
		return
	}
	if err := p.enqueue(&transport.Message{Response: r}); err != nil {
		// Too large for a frame even so: the requester learns why.
		_ = p.enqueue(&transport.Message{Response: fail(r.ID, fmt.Errorf("%w: the answer cannot be sent: %w", limits.ErrExceeded, err))})
	}
}

// setCredentials installs a peer's (new) context data and its expiry.
func (p *Peer) setCredentials(cd policy.ContextData) {
	var exp time.Time
	if e, ok := cd.(policy.Expiring); ok {
		exp = e.ExpiresAt()
	}
	p.cdataMu.Lock()
	p.cdata, p.expires = cd, exp
	p.cctx = nil // made anew for the new credentials
	p.gen++
	p.cdataMu.Unlock()
	p.notified.Store(false)
}

// generation counts credential changes, so a subscription made while a
// refresh ran can tell it was built with the old identity.
func (p *Peer) generation() uint64 {
	p.cdataMu.Lock()
	defer p.cdataMu.Unlock()
	return p.gen
}

// expired reports whether the peer's credentials have expired by the node's
// clock; the first time, it tells the peer (a Notice), so a client refreshes.
func (p *Peer) expired() bool {
	p.cdataMu.Lock()
	exp := p.expires
	p.cdataMu.Unlock()
	if exp.IsZero() || !p.node.cfg.now().After(exp) {
		return false
	}
	if !p.notified.Swap(true) {
		_ = p.enqueue(&transport.Message{Notice: &transport.Fault{Code: transport.CodeUnauthenticated,
			Message: fmt.Sprintf("credentials expired at %s; send refreshed credentials to resume", exp.UTC().Format(time.RFC3339))}})
	}
	return true
}

func (p *Peer) errExpired() error {
	p.cdataMu.Lock()
	exp := p.expires
	p.cdataMu.Unlock()
	return fmt.Errorf("%w: credentials expired at %s; refresh them", policy.ErrUnauthenticated, exp.UTC().Format(time.RFC3339))
}

func (p *Peer) context() *Context {
	p.cdataMu.Lock()
	defer p.cdataMu.Unlock()
	if p.cctx == nil {
		// One per credentials, not one per request: a Context is never
		// changed after it is made.
		p.cctx = p.node.Context(p.cdata)
	}
	return p.cctx
}

func fail(reqID uint64, err error) *transport.Response {
	return &transport.Response{ID: reqID, Error: err.Error(), Code: codeOf(err), Kinds: kindsOf(err)}
}

// serve answers one request on the durable side. Answers that stream are
// queued by serve itself, which then returns nil. onReader: the request is
// a commit served on the connection's reader (readLoop), which sends its
// answer itself when nothing waits ahead of it.
func (p *Peer) serve(ctx context.Context, r *transport.Request, onReader bool) *transport.Response {
	n := p.node
	l := &n.cfg.limits
	if p.expired() {
		return fail(r.ID, p.errExpired())
	}
	c := p.context()
	pinfo := policy.Peer{NodeID: p.remote.NodeID, Durable: p.remote.Durable}
	switch {
	case r.Commit != nil:
		if len(r.Commit.Events) == 0 {
			return fail(r.ID, fmt.Errorf("%w: commit of no events", transport.ErrProtocol))
		}
		if len(r.Commit.Events) > l.MaxCommitEvents {
			return fail(r.ID, limits.Exceeded("max-commit-events", l.MaxCommitEvents, len(r.Commit.Events), "commit: events"))
		}
		if len(r.Commit.Expect) > 0 && p.remote.Version < commitAnswerVersion {
			return fail(r.ID, fmt.Errorf("%w: a commit naming expected heads on protocol version %d (needs %d)", transport.ErrProtocol, p.remote.Version, commitAnswerVersion))
		}
		if len(r.Commit.Expect) > len(r.Commit.Events) {
			return fail(r.ID, limits.Exceeded("max-commit-events", len(r.Commit.Events), len(r.Commit.Expect), "commit: expected heads (at most one per event)"))
		}
		for i := range r.Commit.Events {
			ev := &r.Commit.Events[i]
			if err := n.admitEvent(ev); err != nil {
				return fail(r.ID, err)
			}
			if err := n.canAccess(ctx, c.cdata, ev.Collection); err != nil {
				return fail(r.ID, err)
			}
			if err := n.agent.ValidateEvent(ctx, pinfo, ev); err != nil {
				return fail(r.ID, err)
			}
		}
		current, err := currentOf(r.Commit, p.remote.Version)
		if err != nil {
			return fail(r.ID, err)
		}
		_, err = n.commitEvents(ctx, c.cdata, p.remote.NodeID, r.Commit.Events, true, current)
		if err != nil {
			return fail(r.ID, p.opaque(ctx, c, r.Commit.Events, err))
		}
		// Answer with the entities' current states.
		seq := n.clog.position()
		var one [1]entity.State // a commit of one entity answers with one
		states := one[:0]
		if len(r.Commit.Events) > 1 {
			states = make([]entity.State, 0, len(r.Commit.Events))
		}
		states = p.answerStates(ctx, c, r.Commit.Events, states)
		// An entity whose head is the one the client computed is listed
		// unchanged: it holds that state already (version 6).
		var expect map[id.EntityID]event.Clock
		if len(r.Commit.Expect) > 0 {
			expect = knownHeads(r.Commit.Expect)
		}
		// Served on the reader, the answer is sent from here when nothing
		// waits ahead of it (Outbox.Hold, taken only now so that nothing
		// pushed while the commit ran waits for it): it saves waking the
		// writer. A failed send ends the connection, and the next Recv
		// with it.
		held := onReader && p.out.Hold()
		p.streamStates(ctx, c, r.ID, states, seq, expect)
		if held {
			_ = p.out.Flush(p.sendFrame)
		}
		return nil
	case r.Get != nil:
		if len(r.Get.IDs) > l.MaxIDs {
			return fail(r.ID, limits.Exceeded("max-ids", l.MaxIDs, len(r.Get.IDs), "get: ids"))
		}
		if err := ValidateName(r.Get.Collection); err != nil {
			return fail(r.ID, fmt.Errorf("get: collection %w", err))
		}
		if len(r.Get.Known) > 0 && p.remote.Version < conditionalGetVersion {
			return fail(r.ID, fmt.Errorf("%w: a get naming known heads on protocol version %d (needs %d)", transport.ErrProtocol, p.remote.Version, conditionalGetVersion))
		}
		if len(r.Get.Known) > len(r.Get.IDs) {
			return fail(r.ID, limits.Exceeded("max-ids", len(r.Get.IDs), len(r.Get.Known), "get: known heads (at most one per id)"))
		}
		// Entities the client holds at their current head are listed as
		// Unchanged instead of sent (version 8).
		var known map[id.EntityID]event.Clock
		if len(r.Get.Known) > 0 {
			known = knownHeads(r.Get.Known)
		}
		if err := n.canAccess(ctx, c.cdata, r.Get.Collection); err != nil {
			return fail(r.ID, err)
		}
		// Read a part's worth at a time, so memory follows chunk-bytes, not
		// the number of ids. Deleted entities are sent too (the client learns
		// of the delete); absent and unreadable ones are omitted alike.
		ids := slices.Clone(r.Get.IDs)
		slices.SortFunc(ids, func(a, b id.EntityID) int { return a.Compare(b) })
		ids = slices.Compact(ids)
		var states []entity.State
		size, seq := 0, n.clog.position()
		for i, eid := range ids {
			if st, ok := p.readable(ctx, c, r.Get.Collection, eid); ok {
				states = append(states, *st)
				size += estimateStateSize(st)
			}
			if last := i == len(ids)-1; last || size >= l.ChunkBytes {
				if !p.streamPart(ctx, c, r.ID, states, seq, known, !last) {
					return nil
				}
				states, size, seq = nil, 0, n.clog.position()
			}
		}
		if len(ids) == 0 {
			p.streamStates(ctx, c, r.ID, nil, seq, nil)
		}
		return nil
	case r.GetEvents != nil:
		if len(r.GetEvents.IDs) > l.MaxIDs {
			return fail(r.ID, limits.Exceeded("max-ids", l.MaxIDs, len(r.GetEvents.IDs), "get-events: ids"))
		}
		evs, err := p.readableEvents(ctx, c, r.GetEvents.Collection, r.GetEvents.IDs)
		if err != nil {
			return fail(r.ID, err)
		}
		p.streamEvents(ctx, r.ID, evs)
		return nil
	case r.Fetch != nil:
		if len(r.Fetch.Known) > l.MaxIDs {
			return fail(r.ID, limits.Exceeded("max-ids", l.MaxIDs, len(r.Fetch.Known), "fetch: known entities"))
		}
		b, err := query.ParseBound(r.Fetch.Query)
		if err != nil {
			return fail(r.ID, err)
		}
		if r.Fetch.After != "" {
			if p.remote.Version < cursorVersion {
				return fail(r.ID, fmt.Errorf("%w: a fetch after a cursor on protocol version %d (needs %d)", transport.ErrProtocol, p.remote.Version, cursorVersion))
			}
			if b.After, err = query.DecodeCursor(r.Fetch.After, b.OrderBy); err != nil {
				return fail(r.ID, err)
			}
		}
		seq := n.clog.position()
		states, err := c.fetchStates(ctx, r.Fetch.Collection, b)
		if err != nil {
			return fail(r.ID, err)
		}
		p.streamStates(ctx, c, r.ID, states, seq, knownHeads(r.Fetch.Known))
		return nil
	case r.Subscribe != nil:
		if len(r.Subscribe.Known) > l.MaxIDs {
			return fail(r.ID, limits.Exceeded("max-ids", l.MaxIDs, len(r.Subscribe.Known), "subscribe: known entities"))
		}
		return p.subscribe(ctx, r.ID, r.Subscribe)
	case r.Unsubscribe != nil:
		p.subMu.Lock()
		lq := p.subs[*r.Unsubscribe]
		delete(p.subs, *r.Unsubscribe)
		p.subMu.Unlock()
		if lq != nil {
			lq.Close()
		}
		p.closeAggregate(*r.Unsubscribe)
		return &transport.Response{ID: r.ID}
	case r.Aggregate != nil:
		return p.aggregate(ctx, r.ID, r.Aggregate) // aggregate_server.go
	}
	return fail(r.ID, fmt.Errorf("%w: unknown request type", transport.ErrProtocol))
}

// currentOf checks a commit's CommitReq.Current and returns it: at most
// one entity per event, each one an event of the commit names, and only
// from version 9 on.
func currentOf(r *transport.CommitReq, version uint32) ([]id.EntityID, error) {
	if len(r.Current) == 0 {
		return nil, nil
	}
	if version < currentEditVersion {
		return nil, fmt.Errorf("%w: a commit naming entities to edit at their current heads on protocol version %d (needs %d)", transport.ErrProtocol, version, currentEditVersion)
	}
	if len(r.Current) > len(r.Events) {
		return nil, limits.Exceeded("max-commit-events", len(r.Events), len(r.Current), "commit: entities to edit at their current heads (at most one per event)")
	}
	var in map[id.EntityID]bool // a small commit is searched instead
	if len(r.Events) > 8 {
		in = make(map[id.EntityID]bool, len(r.Events))
		for i := range r.Events {
			in[r.Events[i].Entity] = true
		}
	}
	has := func(eid id.EntityID) bool {
		if in != nil {
			return in[eid]
		}
		for i := range r.Events {
			if r.Events[i].Entity == eid {
				return true
			}
		}
		return false
	}
	for _, eid := range r.Current {
		if !has(eid) {
			return nil, fmt.Errorf("%w: commit names entity %s to edit at its current head, but has no event of it", transport.ErrProtocol, eid)
		}
	}
	return r.Current, nil
}

func knownHeads(ks []transport.Known) map[id.EntityID]event.Clock {
	out := make(map[id.EntityID]event.Clock, len(ks))
	for _, k := range ks {
		out[k.Entity] = k.Head
	}
	return out
}

// partOverhead is what a response part costs beyond its states.
const partOverhead = 64

// streamStates answers a request with states, in parts of about
// limits.ChunkBytes, each waiting for room in the peer's queue. states were
// read when the node's change log was at position seq. Each part is queued under the
// change log's lock and, if anything was published since seq, reconciled
// there first (entities published since are sent as the log has them): so a
// part never carries an entity older than an update already queued for this
// peer, and no storage read happens under a lock. Entities in known with an unchanged head are listed as Unchanged.
func (p *Peer) streamStates(ctx context.Context, c *Context, reqID uint64, states []entity.State, seq uint64, known map[id.EntityID]event.Clock) {
	p.streamPart(ctx, c, reqID, states, seq, known, false)
}

// streamPart is streamStates for one piece of a longer answer: with more
// set, its last part is not the answer's last either. It reports whether
// the answer may go on (nothing failed, the connection is open).
func (p *Peer) streamPart(ctx context.Context, c *Context, reqID uint64, states []entity.State, seq uint64, known map[id.EntityID]event.Clock, more bool) bool {
	n := p.node
	chunk := n.cfg.limits.ChunkBytes
	for start := 0; ; {
		end, size := start, partOverhead
		for end < len(states) {
			sz := estimateStateSize(&states[end]) + 8
			if sz > transport.MaxFrameSize-4096 {
				p.enqueueResponse(fail(reqID, limits.Exceeded("frame", transport.MaxFrameSize, sz, fmt.Sprintf("state of entity %s (bytes); it cannot be sent", states[end].ID))))
				return false
			}
			if end > start && size+sz > chunk {
				break
			}
			size += sz
			end++
		}
		last := end >= len(states)
		// Queued at a position of the change log: entities published since
		// the part was read are sent as the log has them.
		n.clog.mu.Lock()
		part := states[start:end]
		if n.clog.seq != seq {
			changed, ok := n.clog.since(seq, "")
			fresh := make([]entity.State, 0, len(part))
			for i := range part {
				if !ok { // the log no longer reaches back: read again
					if st, ok := p.readable(ctx, c, part[i].Collection, part[i].ID); ok {
						fresh = append(fresh, *st)
					}
					continue
				}
				if ch := changed[part[i].ID]; ch != nil && ch.collection == part[i].Collection {
					if n.agent.CheckRead(ctx, c.cdata, &ch.state) == nil {
						fresh = append(fresh, ch.state)
					}
					continue
				}
				fresh = append(fresh, part[i])
			}
			part = fresh
			seq = n.clog.seq // later parts reconcile only with what is published since
		}
		out := newResponseMessage(reqID)
		resp := out.Response
		if len(known) == 0 {
			resp.States = make([]entity.State, 0, len(part))
		}
		for _, st := range part {
			if h, ok := known[st.ID]; ok && h.Equal(st.Head) {
				resp.Unchanged = append(resp.Unchanged, st.ID)
				continue
			}
			resp.States = append(resp.States, st)
		}
		out.More = !last || more
		// The part's estimate as it was cut (estimateStateSize errs
		// large), for the states it sends in full: one buffer, no growing.
		hint := 0
		if len(part) > 0 {
			hint = size * len(resp.States) / len(part)
		}
		err := p.enqueueSized(out, hint)
		n.clog.mu.Unlock()
		if err != nil {
			p.enqueueResponse(fail(reqID, fmt.Errorf("%w: the answer cannot be sent: %w", limits.ErrExceeded, err)))
			return false
		}
		if p.waitRoom(ctx) != nil {
			return false
		}
		if last {
			return true
		}
		start = end
	}
}

// streamEvents answers a request with events, in parts like streamStates
// (events never change, so no part needs re-reading).
func (p *Peer) streamEvents(ctx context.Context, reqID uint64, evs []event.Event) {
	chunk := p.node.cfg.limits.ChunkBytes
	for start := 0; ; {
		end, size := start, partOverhead
		for end < len(evs) {
			sz := 96 + 34*len(evs[end].Parent)
			for name, ops := range evs[end].Operations {
				sz += len(name) + len(ops) + 8
			}
			if end > start && size+sz > chunk {
				break
			}
			size += sz
			end++
		}
		last := end >= len(evs)
		if err := p.enqueue(&transport.Message{Response: &transport.Response{ID: reqID, Events: evs[start:end]}, More: !last}); err != nil {
			p.enqueueResponse(fail(reqID, fmt.Errorf("%w: the answer cannot be sent: %w", limits.ErrExceeded, err)))
			return
		}
		if last || p.waitRoom(ctx) != nil {
			return
		}
		start = end
	}
}

// subscribe starts or re-points a subscription. Its initial states stream
// like a fetch; its updates are queued in log order, under the change
// log's lock, from the moment it is registered.
func (p *Peer) subscribe(ctx context.Context, reqID uint64, s *transport.SubscribeReq) *transport.Response {
	b, err := query.ParseBound(s.Query)
	if err != nil {
		return fail(reqID, err)
	}
	if len(s.Includes) > 0 && p.remote.Version < includeVersion {
		return fail(reqID, fmt.Errorf("%w: includes on protocol version %d (needs %d)", transport.ErrProtocol, p.remote.Version, includeVersion))
	}
	if s.After != "" {
		if p.remote.Version < liveCursorVersion {
			return fail(reqID, fmt.Errorf("%w: a subscription after a cursor on protocol version %d (needs %d)", transport.ErrProtocol, p.remote.Version, liveCursorVersion))
		}
		if b.After, err = query.DecodeCursor(s.After, b.OrderBy); err != nil {
			return fail(reqID, err)
		}
	}
	incs, err := includesFromWire(s.Includes)
	if err != nil {
		return fail(reqID, err)
	}
	max := p.node.cfg.limits.MaxSubscriptions
	p.subMu.Lock()
	existing := p.subs[s.Sub]
	count := len(p.subs)
	p.subMu.Unlock()
	if existing == nil && count >= max {
		return fail(reqID, limits.Exceeded("max-subscriptions", max, count+1, "subscriptions on this connection"))
	}
	sub := s.Sub
	gen := p.generation()
	c := p.context()
	var initial []entity.State
	var seq uint64
	var lq *LiveQuery
	// The entities the selection's traversal paths pass through go with
	// its rows: the subscriber matches rows on its own copies of them.
	paths := p.node.newPathReader(s.Collection, b.Where)
	lq, err = c.queryWithSink(ctx, s.Collection, b, incs, func(states []entity.State) {
		initial, seq = states, p.node.clog.seq // under the log's lock
	}, func(cs ChangeSet) {
		if p.paused.Load() || p.refreshing.Load() || p.expired() {
			// Paused until refreshed credentials; the refresh sends every
			// subscription's current result and the current state of what
			// left it meanwhile, so nothing is missed.
			p.paused.Store(true)
			p.notePausedRemovals(sub, cs)
			return
		}
		u := transport.Update{Sub: sub}
		for _, ch := range cs.Changes {
			item := transport.UpdateItem{State: ch.Entity.state}
			switch ch.Kind {
			case Add:
				item.Tag = transport.TagAdd
			case Remove:
				item.Tag = transport.TagRemove
				// An entity that left because the subscriber may no longer
				// read it is sent as gone: its id, never its new state.
				cur := p.context()
				if p.node.agent.CheckRead(ctx, cur.cdata, &ch.Entity.state) != nil {
					item.State = entity.State{ID: ch.Entity.state.ID, Collection: ch.Entity.state.Collection}
					item.Gone = true
				}
			}
			u.Items = append(u.Items, item)
		}
		if paths != nil {
			rows := make([]entity.State, 0, len(u.Items))
			for _, it := range u.Items {
				if !it.Gone {
					rows = append(rows, it.State)
				}
			}
			// As the subscriber's identity reads them now.
			u.Items = paths.items(ctx, p.context(), rows, true, u.Items)
			u.Items = flippedItems(ctx, p.context(), cs.paths, u.Items)
		}
		u.Items = p.includedItems(ctx, cs, u.Items)
		if len(u.Items) > 0 {
			p.addUpdate(u)
		}
	})
	if err != nil {
		// A failed re-point ends the subscription it would have replaced.
		if existing != nil {
			p.subMu.Lock()
			if p.subs[sub] == existing {
				delete(p.subs, sub)
			}
			p.subMu.Unlock()
			existing.Close()
		}
		return fail(reqID, err)
	}
	p.subMu.Lock()
	if p.subs == nil { // connection already gone
		p.subMu.Unlock()
		lq.Close()
		return nil
	}
	// The new query replaces the old one only once it exists.
	p.subs[sub] = lq
	p.subMu.Unlock()
	if existing != nil {
		existing.Close()
	}
	rows := initial
	if p.generation() != gen {
		// Credentials changed while the query was built: the refresh may
		// not have seen it; run it with the new identity.
		n := p.node
		c = p.context()
		err := lq.reauthorize(ctx, c, func() {
			initial, seq = initial[:0], n.clog.seq
			for _, v := range lq.Items() {
				initial = append(initial, v.state)
			}
			rows = initial
			initial = append(initial, lq.includedStates()...)
		})
		if err != nil {
			p.endSub(&transport.SubEnded{Sub: sub, Code: codeOf(err), Message: err.Error(), Kinds: kindsOf(err)})
			return fail(reqID, err)
		}
	}
	if paths != nil {
		// Read off the log's lock (one read per path entity: thousands for
		// a large result), after the states at seq: streamStates sends an
		// entity published since as the log has it, and every later
		// update reads its path entities again.
		initial = append(slices.Clip(initial), paths.states(ctx, c, rows)...)
	}
	select {
	case <-p.done:
		lq.Close()
		return nil
	default:
	}
	p.streamStates(ctx, c, reqID, initial, seq, knownHeads(s.Known))
	return nil
}

// flippedItems appends to items the path entities that flipped a term of
// a subscription's selection (ChangeSet.paths) as the subscriber, c, may
// read them: the state after the change, or gone for one the subscriber
// could read before (it may hold that copy) and may not now; nothing for
// one it could read neither before nor after.
func flippedItems(ctx context.Context, c *Context, chs []*change, items []transport.UpdateItem) []transport.UpdateItem {
	if len(chs) == 0 {
		return items
	}
	rd := c.newRefReader(ctx, false)
	for _, ch := range chs {
		switch {
		case rd.visible(ch.collection, &ch.after):
			items = append(items, transport.UpdateItem{Tag: transport.TagIncluded, State: ch.after})
		case ch.before != nil && rd.visible(ch.collection, ch.before):
			items = append(items, transport.UpdateItem{Tag: transport.TagIncluded, State: entity.State{ID: ch.after.ID, Collection: ch.collection}, Gone: true})
		}
	}
	return items
}

// includedItems appends a ChangeSet's include changes to a subscription's
// update: the states included entities have now, and, for one that left
// its include, its deletion (when the subscriber may read its deleted
// state), or that it is gone when the subscriber may no longer read it (an entity that only stopped being included is not sent:
// the client's own live query drops it).
func (p *Peer) includedItems(ctx context.Context, cs ChangeSet, items []transport.UpdateItem) []transport.UpdateItem {
	var rd *refReader
	for _, ic := range cs.IncludeChanges {
		st := ic.Entity.state
		item := transport.UpdateItem{Tag: transport.TagIncluded, State: st}
		if ic.Kind == Remove {
			if rd == nil {
				rd = p.context().newRefReader(ctx, false)
			}
			switch {
			case st.Deleted() && rd.visible(st.Collection, &st):
				// Its deleted state keeps its values: sent only when the
				// subscriber may read them.
			case !rd.readable(st.Collection, &st):
				item.State, item.Gone = entity.State{ID: st.ID, Collection: st.Collection}, true
			default:
				continue
			}
		}
		items = append(items, item)
	}
	return items
}

var errNoUpstream = errors.New("ankurah: no durable peer connected")

// helloTimeout bounds the wait for a connecting node's hello.
const helloTimeout = 10 * time.Second

// newResponseMessage returns the message of a response to request reqID,
// made in one allocation with room for one unchanged entity (a commit's
// answer).
func newResponseMessage(reqID uint64) *transport.Message {
	f := new(struct {
		m         transport.Message
		r         transport.Response
		unchanged [1]id.EntityID
	})
	f.r.ID = reqID
	f.r.Unchanged = f.unchanged[:0]
	f.m.Response = &f.r
	return &f.m
}

// readable returns an entity's stored state (deleted or not) when the
// caller may read it.
func (p *Peer) readable(ctx context.Context, c *Context, collection string, eid id.EntityID) (*entity.State, bool) {
	n := p.node
	if n.canAccess(ctx, c.cdata, collection) != nil {
		return nil, false
	}
	coll, err := n.readCollection(ctx, collection)
	if err != nil {
		return nil, false
	}
	// Shared with the engine when it can (getStored): every caller only
	// sends it or checks it.
	st, err := getStored(ctx, coll, eid)
	if err != nil || n.agent.CheckRead(ctx, c.cdata, &st) != nil {
		return nil, false
	}
	return &st, true
}

// answerStates appends to states the current state of each entity evs
// change that the caller may read, each once, in the order of evs: a
// commit's answer. The entities of a large commit are read in one step per
// collection where the engine can (storage.ManyReader) — one query, not one
// round trip each, on PostgreSQL — and one at a time otherwise.
func (p *Peer) answerStates(ctx context.Context, c *Context, evs []event.Event, states []entity.State) []entity.State {
	var seen entitySet
	if len(evs) > entitySetSlice {
		seen.many = make(map[id.EntityID]bool, len(evs))
	}
	if len(evs) < readAheadMin {
		for _, ev := range evs {
			if !seen.add(ev.Entity) {
				continue
			}
			if st, ok := p.readable(ctx, c, ev.Collection, ev.Entity); ok {
				states = append(states, *st)
			}
		}
		return states
	}
	n := p.node
	type ofColl struct {
		ids    []id.EntityID
		denied bool
		got    map[id.EntityID]entity.State // nil: read one at a time
	}
	by := map[string]*ofColl{}
	var names []string
	unique := make([]*event.Event, 0, len(evs))
	for i := range evs {
		ev := &evs[i]
		if !seen.add(ev.Entity) {
			continue
		}
		unique = append(unique, ev)
		oc := by[ev.Collection]
		if oc == nil {
			oc = &ofColl{}
			by[ev.Collection] = oc
			names = append(names, ev.Collection)
		}
		oc.ids = append(oc.ids, ev.Entity)
	}
	for _, name := range names {
		oc := by[name]
		if n.canAccess(ctx, c.cdata, name) != nil {
			oc.denied = true
			continue
		}
		coll, err := n.readCollection(ctx, name)
		if err != nil {
			continue // read one at a time below, each look-up tried again
		}
		if m, ok, err := readStatesAhead(ctx, coll, oc.ids); err == nil && ok {
			oc.got = m
		}
	}
	for _, ev := range unique {
		oc := by[ev.Collection]
		switch {
		case oc.denied:
		case oc.got == nil:
			if st, ok := p.readable(ctx, c, ev.Collection, ev.Entity); ok {
				states = append(states, *st)
			}
		default:
			if st, ok := oc.got[ev.Entity]; ok && n.agent.CheckRead(ctx, c.cdata, &st) == nil {
				states = append(states, st)
			}
		}
	}
	return states
}

// opaque hides, in a refused commit's error, whether entities the caller
// may not read exist: any failure touching one is reported as access denied.
func (p *Peer) opaque(ctx context.Context, c *Context, evs []event.Event, err error) error {
	for _, ev := range evs {
		if ev.IsGenesis() {
			continue
		}
		if _, ok := p.readable(ctx, c, ev.Collection, ev.Entity); !ok {
			return fmt.Errorf("%w: commit refused: an entity it changes is not found or not writable", policy.ErrAccessDenied)
		}
	}
	return err
}

// reauthorize re-runs every subscription with the peer's new identity, so
// refreshed credentials narrow or widen what it receives from now on. A
// peer whose subscriptions were paused by expired credentials is sent every
// subscription's whole current result, since it missed updates meanwhile.
func (p *Peer) reauthorize(ctx context.Context) {
	c := p.context()
	p.subMu.Lock()
	subs := make(map[uint64]*LiveQuery, len(p.subs))
	for k, lq := range p.subs {
		subs[k] = lq
	}
	p.subMu.Unlock()
	n := p.node
	if p.expired() {
		// Refreshed with credentials that are themselves expired: stay paused.
		n.clog.mu.Lock()
		p.paused.Store(true)
		p.refreshing.Store(false)
		n.clog.mu.Unlock()
		return
	}
	// Every subscription's result is read with the new identity off every
	// lock; then all are installed, resent and unpaused together at one
	// position of the change log.
	type pending struct {
		sub uint64
		lq  *LiveQuery
		sel *selection
		s0  uint64
	}
	var ps []pending
	for sub, lq := range subs {
		lq.mu.Lock()
		closed, b := lq.closed, lq.bound
		lq.mu.Unlock()
		if closed {
			continue
		}
		s0 := n.clog.position()
		sel, err := lq.prepare(ctx, c, b)
		if err == nil {
			err = sel.read(ctx)
		}
		if err != nil {
			p.log.WarnContext(ctx, "subscription refused after a credential refresh; ending it", "err", err)
			p.endSub(&transport.SubEnded{Sub: sub, Code: codeOf(err), Message: err.Error(), Kinds: kindsOf(err)})
			continue
		}
		ps = append(ps, pending{sub, lq, sel, s0})
	}
	n.clog.mu.Lock()
	defer n.clog.mu.Unlock()
	// Paused by expiry, or a commit arrived while re-running: the whole
	// current results are sent.
	resend := p.paused.Swap(false)
	p.refreshing.Store(false)
	removed := p.takePausedRemovals()
	for _, pd := range ps {
		ok, err := pd.lq.install(pd.sel, pd.s0, nil)
		if err == nil && !ok {
			// Too much was published meanwhile: read again, here.
			if err = pd.sel.read(cacheOnly(ctx)); err == nil {
				_, err = pd.lq.install(pd.sel, n.clog.seq, nil)
			}
		}
		sub := pd.sub
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				p.log.WarnContext(ctx, "subscription refused after a credential refresh; ending it", "err", err)
				p.endSub(&transport.SubEnded{Sub: sub, Code: codeOf(err), Message: err.Error(), Kinds: kindsOf(err)})
			}
			continue
		}
		if resend {
			u := transport.Update{Sub: sub}
			in := map[id.EntityID]bool{}
			for _, v := range pd.lq.Items() {
				in[v.state.ID] = true
				u.Items = append(u.Items, transport.UpdateItem{State: v.state})
			}
			for _, st := range pd.lq.includedStates() {
				u.Items = append(u.Items, transport.UpdateItem{Tag: transport.TagIncluded, State: st})
			}
			for eid, coll := range removed[sub] {
				if in[eid] {
					continue
				}
				if st, ok := p.readable(ctx, c, coll, eid); ok {
					u.Items = append(u.Items, transport.UpdateItem{Tag: transport.TagRemove, State: *st})
				} else {
					u.Items = append(u.Items, transport.UpdateItem{Tag: transport.TagRemove, State: entity.State{ID: eid, Collection: coll}, Gone: true})
				}
			}
			if paths := n.newPathReader(pd.lq.collection, pd.sel.bound.Where); paths != nil {
				// The path entities of the rows and of those that left.
				var rows []entity.State
				for _, it := range u.Items {
					if it.Tag != transport.TagIncluded && !it.Gone {
						rows = append(rows, it.State)
					}
				}
				u.Items = paths.items(ctx, c, rows, true, u.Items)
			}
			if len(u.Items) > 0 {
				p.addUpdate(u)
			}
		}
	}
	n.reactor.flush()
}

// maxPausedRemovals bounds the removals a paused peer's subscriptions
// remember; past it, the subscription ends (SubEnded) and the client
// subscribes anew once refreshed.
const maxPausedRemovals = 100000

// notePausedRemovals remembers entities that left a subscription while its
// peer was paused (called under the change log's lock).
func (p *Peer) notePausedRemovals(sub uint64, cs ChangeSet) {
	if p.pausedGone == nil {
		p.pausedGone = map[uint64]map[id.EntityID]string{}
	}
	for _, ch := range cs.Changes {
		if ch.Kind != Remove {
			continue
		}
		m := p.pausedGone[sub]
		if m == nil {
			m = map[id.EntityID]string{}
			p.pausedGone[sub] = m
		}
		m[ch.Entity.state.ID] = ch.Entity.state.Collection
		if len(m) > maxPausedRemovals {
			delete(p.pausedGone, sub)
			p.endSub(&transport.SubEnded{Sub: sub, Code: transport.CodeLimit, Message: fmt.Sprintf("more than %d entities left the subscription while the credentials were expired; subscribe again", maxPausedRemovals)})
			return
		}
	}
}

func (p *Peer) takePausedRemovals() map[uint64]map[id.EntityID]string {
	m := p.pausedGone
	p.pausedGone = nil
	return m
}
