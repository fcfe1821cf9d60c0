package core

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
	frame, err := conn.Recv(ctx)
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
		if len(r.Commit.Events) == 0 {
			return fail(r.ID, fmt.Errorf("%w: empty commit", transport.ErrProtocol))
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
		changes, err := n.commitEvents(ctx, c.cdata, r.Commit.Events, true)
		if err != nil {
			return fail(r.ID, err)
		}
		resp := &transport.Response{ID: r.ID}
		for _, ch := range changes {
			resp.States = append(resp.States, ch.after)
		}
		if len(resp.States) == 0 {
			// Already applied here (a retried commit): answer with the current states.
			for _, ev := range r.Commit.Events {
				if st, err := c.get(ctx, ev.Collection, ev.Entity); err == nil && !slices.ContainsFunc(resp.States, func(s entity.State) bool { return s.ID == st.ID }) {
					resp.States = append(resp.States, *st)
				}
			}
		}
		return resp
	case r.Get != nil:
		resp := &transport.Response{ID: r.ID}
		for _, raw := range r.Get.IDs {
			st, err := c.get(ctx, r.Get.Collection, id.EntityID(raw))
			if err != nil {
				continue // absent, deleted or unreadable: omitted, never distinguished
			}
			resp.States = append(resp.States, *st)
		}
		return resp
	case r.GetEvents != nil:
		if err := n.agent.CanAccessCollection(ctx, c.cdata, r.GetEvents.Collection); err != nil {
			return fail(r.ID, err)
		}
		coll, err := n.collection(ctx, r.GetEvents.Collection)
		if err != nil {
			return fail(r.ID, err)
		}
		ids := make([]id.EventID, len(r.GetEvents.IDs))
		for i, x := range r.GetEvents.IDs {
			ids[i] = id.EventID(x)
		}
		evs, err := coll.GetEvents(ctx, ids)
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
		u := &transport.Update{Sub: sub}
		for _, ch := range cs.Changes {
			item := transport.UpdateItem{State: ch.Entity.state}
			switch ch.Kind {
			case Add:
				item.Tag = transport.TagAdd
			case Remove:
				item.Tag = transport.TagRemove
			}
			u.Items = append(u.Items, item)
		}
		if len(u.Items) > 0 {
			p.enqueue(&transport.Message{Update: u})
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
