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
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Accept serves a connection from another node (usually an ephemeral
// client) until it closes: the handshake, then requests and subscription
// updates. It returns why the connection ended.
func (n *Node) Accept(ctx context.Context, conn transport.Connection) error {
	hctx, cancel := context.WithTimeout(ctx, helloTimeout)
	frame, err := conn.Recv(hctx)
	cancel()
	if err != nil {
		conn.Close()
		return fmt.Errorf("ankurah: handshake: %w", err)
	}
	m, err := transport.Decode(frame)
	if err == nil && m.Hello == nil {
		err = fmt.Errorf("%w: first message must be a hello", transport.ErrProtocol)
	}
	tmp := &Peer{node: n, conn: conn, done: make(chan struct{})}
	if err != nil {
		sendFault(conn, transport.CodeProtocol, err)
		return err
	}
	if m.Hello.Version != transport.ProtocolVersion {
		err := fmt.Errorf("%w: peer speaks protocol version %d, this node speaks %d", transport.ErrVersion, m.Hello.Version, transport.ProtocolVersion)
		sendFault(conn, transport.CodeVersion, err)
		return err
	}
	_ = tmp
	pinfo := policy.Peer{NodeID: m.Hello.NodeID, Durable: m.Hello.Durable}
	cdata, err := n.agent.Authenticate(ctx, pinfo, m.Hello.Credentials)
	if err != nil {
		err = fmt.Errorf("%w: %w", policy.ErrUnauthenticated, err)
		sendFault(conn, transport.CodeUnauthenticated, err)
		return err
	}
	p := newPeer(n, conn, *m.Hello)
	p.cdata = cdata
	p.enqueue(&transport.Message{Hello: &transport.Hello{NodeID: n.id.String(), Durable: n.cfg.role == Durable, SystemID: n.cfg.systemID, Version: transport.ProtocolVersion}})
	for {
		frame, err := conn.Recv(ctx)
		if err != nil {
			p.shutdown(err)
			return err
		}
		m, err := transport.Decode(frame)
		if err != nil {
			p.log.WarnContext(ctx, "refusing malformed message", "err", err)
			p.fault(transport.CodeProtocol, err)
			return err
		}
		switch {
		case m.Request != nil:
			p.enqueueResponse(p.serve(ctx, m.Request))
		case m.Credentials != nil:
			cd, err := n.agent.Authenticate(ctx, pinfo, m.Credentials)
			if err != nil {
				err = fmt.Errorf("%w: refreshed credentials: %w", policy.ErrUnauthenticated, err)
				p.fault(transport.CodeUnauthenticated, err)
				return err
			}
			p.cdataMu.Lock()
			p.cdata = cd
			p.cdataMu.Unlock()
			p.reauthorize(ctx)
		case m.Fault != nil:
			err := errOf(m.Fault.Code, m.Fault.Message)
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
	frame, _ := transport.Encode(&transport.Message{Fault: &transport.Fault{Code: code, Message: err.Error()}})
	_ = conn.Send(context.Background(), frame)
	conn.Close()
}

func (p *Peer) enqueueResponse(r *transport.Response) {
	if r != nil {
		p.enqueue(&transport.Message{Response: r})
	}
}

func (p *Peer) context() *Context {
	p.cdataMu.Lock()
	defer p.cdataMu.Unlock()
	return p.node.Context(p.cdata)
}

func fail(reqID uint64, err error) *transport.Response {
	return &transport.Response{ID: reqID, Error: err.Error(), Code: codeOf(err)}
}

// serve answers one request on the durable side.
func (p *Peer) serve(ctx context.Context, r *transport.Request) *transport.Response {
	n := p.node
	c := p.context()
	pinfo := policy.Peer{NodeID: p.remote.NodeID, Durable: p.remote.Durable}
	switch {
	case r.Commit != nil:
		if len(r.Commit.Events) == 0 || len(r.Commit.Events) > transport.MaxCommitEvents {
			return fail(r.ID, fmt.Errorf("%w: commit of %d events (1 to %d allowed)", transport.ErrProtocol, len(r.Commit.Events), transport.MaxCommitEvents))
		}
		for i := range r.Commit.Events {
			ev := &r.Commit.Events[i]
			if err := n.agent.CanAccessCollection(ctx, c.cdata, ev.Collection); err != nil {
				return fail(r.ID, err)
			}
			if err := n.agent.ValidateEvent(ctx, pinfo, ev); err != nil {
				return fail(r.ID, err)
			}
		}
		if _, err := n.commitEvents(ctx, c.cdata, r.Commit.Events, true); err != nil {
			return fail(r.ID, p.opaque(ctx, c, r.Commit.Events, err))
		}
		// Answer with the entities' current states, read and queued under the
		// commit lock so nothing newer about them was queued before.
		n.commitMu.Lock()
		defer n.commitMu.Unlock()
		resp := &transport.Response{ID: r.ID}
		for _, ev := range r.Commit.Events {
			if st, ok := p.readable(ctx, c, ev.Collection, ev.Entity); ok && !slices.ContainsFunc(resp.States, func(s entity.State) bool { return s.ID == st.ID }) {
				resp.States = append(resp.States, *st)
			}
		}
		p.enqueueResponse(resp)
		return nil
	case r.Get != nil:
		if err := n.agent.CanAccessCollection(ctx, c.cdata, r.Get.Collection); err != nil {
			return fail(r.ID, err)
		}
		n.commitMu.Lock()
		defer n.commitMu.Unlock()
		resp := &transport.Response{ID: r.ID}
		for _, raw := range r.Get.IDs {
			// Deleted entities are sent too (the client learns of the delete);
			// absent and unreadable ones are omitted alike.
			if st, ok := p.readable(ctx, c, r.Get.Collection, id.EntityID(raw)); ok {
				resp.States = append(resp.States, *st)
			}
		}
		p.enqueueResponse(resp)
		return nil
	case r.GetEvents != nil:
		if err := n.agent.CanAccessCollection(ctx, c.cdata, r.GetEvents.Collection); err != nil {
			return fail(r.ID, err)
		}
		coll, err := n.collection(ctx, r.GetEvents.Collection)
		if err != nil {
			return fail(r.ID, err)
		}
		evs, err := coll.GetEvents(ctx, r.GetEvents.IDs)
		if err != nil {
			return fail(r.ID, err)
		}
		resp := &transport.Response{ID: r.ID}
		for i := range evs {
			st, err := c.get(ctx, evs[i].Collection, evs[i].Entity)
			if err != nil {
				continue
			}
			if n.agent.CheckEventRead(ctx, c.cdata, &evs[i], st) == nil {
				resp.Events = append(resp.Events, evs[i])
			}
		}
		return resp
	case r.Fetch != nil:
		b, err := query.ParseBound(r.Fetch.Query)
		if err != nil {
			return fail(r.ID, err)
		}
		n.commitMu.Lock() // a consistent read, ordered with subscription updates
		defer n.commitMu.Unlock()
		states, err := c.fetchStates(ctx, r.Fetch.Collection, b)
		if err != nil {
			return fail(r.ID, err)
		}
		resp := &transport.Response{ID: r.ID}
		known := knownHeads(r.Fetch.Known)
		for _, s := range states {
			if h, ok := known[s.ID]; ok && h.Equal(s.Head) {
				resp.Unchanged = append(resp.Unchanged, s.ID)
				continue
			}
			resp.States = append(resp.States, s)
		}
		p.enqueueResponse(resp)
		return nil
	case r.Subscribe != nil:
		return p.subscribe(ctx, c, r.ID, r.Subscribe)
	case r.Unsubscribe != nil:
		p.subMu.Lock()
		lq := p.subs[*r.Unsubscribe]
		delete(p.subs, *r.Unsubscribe)
		p.subMu.Unlock()
		if lq != nil {
			lq.Close()
		}
		return &transport.Response{ID: r.ID}
	}
	return fail(r.ID, fmt.Errorf("%w: unknown request type", transport.ErrProtocol))
}

func knownHeads(ks []transport.Known) map[id.EntityID]event.Clock {
	out := make(map[id.EntityID]event.Clock, len(ks))
	for _, k := range ks {
		out[id.EntityID(k.Entity)] = k.Head
	}
	return out
}

// subscribe starts or re-points a subscription. Its response (the initial
// states the client lacks) is queued before any update of the subscription,
// and updates are queued in commit order, under the node's commit lock.
func (p *Peer) subscribe(ctx context.Context, c *Context, reqID uint64, s *transport.SubscribeReq) *transport.Response {
	b, err := query.ParseBound(s.Query)
	if err != nil {
		return fail(reqID, err)
	}
	p.subMu.Lock()
	existing := p.subs[s.Sub]
	p.subMu.Unlock()
	if existing != nil {
		existing.Close()
	}
	sub := s.Sub
	known := knownHeads(s.Known)
	lq, err := c.queryWithSink(ctx, s.Collection, b, func(initial []entity.State) {
		resp := &transport.Response{ID: reqID}
		for _, st := range initial {
			if h, ok := known[st.ID]; ok && h.Equal(st.Head) {
				resp.Unchanged = append(resp.Unchanged, st.ID)
				continue
			}
			resp.States = append(resp.States, st)
		}
		p.enqueueResponse(resp)
	}, func(cs ChangeSet) {
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
		if len(u.Items) > 0 {
			p.addUpdate(u)
		}
	})
	if err != nil {
		return fail(reqID, err)
	}
	p.subMu.Lock()
	if p.subs == nil { // connection already gone
		p.subMu.Unlock()
		lq.Close()
		return nil
	}
	p.subs[sub] = lq
	p.subMu.Unlock()
	select {
	case <-p.done:
		lq.Close()
	default:
	}
	return nil
}

var errNoUpstream = errors.New("ankurah: no durable peer connected")

// helloTimeout bounds the wait for a connecting node's hello.
const helloTimeout = 10 * time.Second

// readable returns an entity's stored state (deleted or not) when the
// caller may read it.
func (p *Peer) readable(ctx context.Context, c *Context, collection string, eid id.EntityID) (*entity.State, bool) {
	n := p.node
	if n.agent.CanAccessCollection(ctx, c.cdata, collection) != nil {
		return nil, false
	}
	coll, err := n.collection(ctx, collection)
	if err != nil {
		return nil, false
	}
	st, err := coll.GetState(ctx, eid)
	if err != nil || n.agent.CheckRead(ctx, c.cdata, &st) != nil {
		return nil, false
	}
	return &st, true
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
// refreshed credentials narrow or widen what it receives from now on.
func (p *Peer) reauthorize(ctx context.Context) {
	c := p.context()
	p.subMu.Lock()
	subs := make([]*LiveQuery, 0, len(p.subs))
	for _, lq := range p.subs {
		subs = append(subs, lq)
	}
	p.subMu.Unlock()
	n := p.node
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	for _, lq := range subs {
		if err := lq.reauthorize(ctx, c); err != nil && !errors.Is(err, ErrClosed) {
			p.log.WarnContext(ctx, "subscription refused after a credential refresh; closing it", "err", err)
			go lq.Close()
		}
	}
	n.reactor.flush()
}
