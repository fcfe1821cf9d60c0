package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

func setProps(c *core.Context, eid id.EntityID, from, to int) error {
	ctx := context.Background()
	trx := c.Begin()
	var m *core.Mut
	var err error
	if eid.IsZero() {
		m, err = trx.Create(ctx, "todo")
	} else {
		m, err = trx.Edit(ctx, "todo", eid)
	}
	if err != nil {
		return err
	}
	for i := from; i < to; i++ {
		if err := m.Set(fmt.Sprintf("p%05d", i), i); err != nil {
			return err
		}
	}
	if err := trx.Commit(ctx); err != nil {
		return err
	}
	if eid.IsZero() {
		return fmt.Errorf("created %s", m.ID())
	}
	return nil
}

// Finding: one user could commit an entity no reader could decode, making
// the collection unreadable for everyone.
func TestLimits_EntitiesNeverGrowPastTheLimits(t *testing.T) {
	ctx := context.Background()
	server := newNode(t, core.WithLimits(limits.Limits{MaxProperties: 100, MaxStateBytes: 64 << 10, MaxEventBytes: 32 << 10}))
	client := newClient(t)
	link(t, server, client)
	c := client.Context(nil)

	t.Run("properties at creation", func(t *testing.T) {
		err := setProps(c, id.EntityID{}, 0, 101)
		if !errors.Is(err, core.ErrLimit) || !strings.Contains(err.Error(), "max-properties") {
			t.Fatalf("err = %v, want ErrLimit naming max-properties", err)
		}
	})
	t.Run("properties grown by an edit", func(t *testing.T) {
		eid := createTodo(t, c, "alice", "x")
		must(t, setProps(c, eid, 0, 60))
		err := setProps(c, eid, 60, 110)
		if !errors.Is(err, core.ErrLimit) || !strings.Contains(err.Error(), "max-properties") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("state grown in several commits", func(t *testing.T) {
		eid := createTodo(t, c, "alice", "x")
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			err = editTodo(c, eid, fmt.Sprintf("blob%d", i), strings.Repeat("x", 20<<10))
		}
		if !errors.Is(err, core.ErrLimit) || !strings.Contains(err.Error(), "max-state-bytes") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("one large event", func(t *testing.T) {
		eid := createTodo(t, c, "alice", "x")
		err := editTodo(c, eid, "blob", strings.Repeat("x", 40<<10))
		if !errors.Is(err, core.ErrLimit) || !strings.Contains(err.Error(), "max-event-bytes") {
			t.Fatalf("err = %v", err)
		}
	})
	// The collection stays readable for everyone.
	views, err := server.Context(nil).Fetch(ctx, "todo", "true")
	must(t, err)
	for _, v := range views {
		if len(v.Values()) > 100 {
			t.Fatalf("an entity with %d properties was stored", len(v.Values()))
		}
	}
	if _, err := c.Fetch(ctx, "todo", "true"); err != nil {
		t.Fatal(err)
	}
}

func TestLimits_ConfigBeyondCeilingsIsRefused(t *testing.T) {
	_, err := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithLimits(limits.Limits{MaxProperties: limits.CeilingProperties + 1}))
	if !errors.Is(err, limits.ErrConfig) || !strings.Contains(err.Error(), "max-properties") {
		t.Fatalf("err = %v", err)
	}
	var l limits.Limits
	if err := l.Set("max-state-bytes", "2MiB"); err != nil || l.MaxStateBytes != 2<<20 {
		t.Fatalf("Set: %v %d", err, l.MaxStateBytes)
	}
	if err := l.Set("no-such-limit", "1"); !errors.Is(err, limits.ErrConfig) {
		t.Fatalf("unknown limit: %v", err)
	}
}

// Finding: a batch whose first event for an entity is already stored,
// followed by new events of that entity, failed as a conflict every time.
func TestCommit_BatchStartingWithAStoredEventSucceeds(t *testing.T) {
	server := newNode(t)
	eid := createTodo(t, server.Context(nil), "alice", "x")
	req := rawSession(t, server, "alice")
	st := getState(t, server, eid)
	e1 := event.Event{Collection: "todo", Entity: eid, Parent: st.Head, Operations: rawLWW(t, 2, "title", "one")}
	if r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{e1}}}); r.Error != "" {
		t.Fatal(r.Error)
	}
	e2 := event.Event{Collection: "todo", Entity: eid, Parent: event.NewClock(e1.ID()), Operations: rawLWW(t, 3, "title", "two")}
	if r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{e1, e2}}}); r.Error != "" {
		t.Fatalf("replayed event then a new one: %s", r.Error)
	}
	if got, _ := getState(t, server, eid).Values.Get("title").AsString(); got != "two" {
		t.Fatalf("title %q", got)
	}
}

func getState(t testing.TB, n *core.Node, eid id.EntityID) entity.State {
	t.Helper()
	coll, err := n.Engine().Collection(context.Background(), "todo")
	must(t, err)
	st, err := coll.GetState(context.Background(), eid)
	must(t, err)
	return st
}

// Finding: concurrent events could widen a head without bound (at width
// 4,000 every later edit carried 132 KB of parents).
func TestLimits_HeadWidthIsBoundedByMergeEvents(t *testing.T) {
	server := newNode(t, core.WithLimits(limits.Limits{HeadWidth: 4, MaxParents: 8}))
	eid := createTodo(t, server.Context(nil), "alice", "x")
	genesis := getState(t, server, eid).Head
	req := rawSession(t, server, "alice")
	for i := 0; i < 20; i++ {
		ev := event.Event{Collection: "todo", Entity: eid, Parent: genesis, Operations: rawLWW(t, 2, "title", fmt.Sprint(i))}
		if r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}}}); r.Error != "" {
			t.Fatalf("concurrent event %d: %s", i, r.Error)
		}
		if w := len(getState(t, server, eid).Head); w > 4 {
			t.Fatalf("after %d concurrent events the head is %d wide (limit 4)", i+1, w)
		}
	}
	// A client that saw a merged head edits on from it.
	must(t, editTodo(server.Context(nil), eid, "title", "after"))
	if got, _ := getState(t, server, eid).Values.Get("title").AsString(); got != "after" {
		t.Fatalf("title %q", got)
	}
	// Events naming more parents than allowed are refused.
	wide := make([]id.EventID, 9)
	for i := range wide {
		wide[i][0] = byte(i + 1)
	}
	ev := event.Event{Collection: "todo", Entity: eid, Parent: event.NewClock(wide...), Operations: rawLWW(t, 3, "title", "wide")}
	r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}}})
	if r.Code != transport.CodeLimit || !strings.Contains(r.Error, "max-parents") {
		t.Fatalf("response %+v, want CodeLimit naming max-parents", r)
	}
}

// Finding: messages over 32 MiB were dropped and the requester waited
// forever. Results now stream in parts; here the parts are made small.
func TestSync_LargeResultsStreamInParts(t *testing.T) {
	ctx := context.Background()
	server := newNode(t, core.WithLimits(limits.Limits{ChunkBytes: 4 << 10}))
	c := server.Context(nil)
	const n = 600
	trx := c.Begin()
	var muts []*core.Mut
	for i := 0; i < n; i++ {
		m, err := trx.Create(ctx, "note")
		must(t, err)
		must(t, m.Set("body", strings.Repeat("n", 250)))
		must(t, m.Set("i", i))
		muts = append(muts, m)
	}
	must(t, trx.Commit(ctx))

	client := newClient(t)
	link(t, server, client)
	cc := client.Context(nil)
	views, err := cc.Fetch(ctx, "note", "true")
	must(t, err)
	if len(views) != n {
		t.Fatalf("fetch: %d of %d", len(views), n)
	}
	lq, err := newClientQuery(t, server, "note", "i >= 0")
	must(t, err)
	if got := len(lq.Items()); got != n {
		t.Fatalf("subscription initial: %d of %d", got, n)
	}
	s := collect(lq)
	s.next(t) // Initial
	// One commit touching every note reaches the subscriber as one change.
	trx = c.Begin()
	for _, m := range muts {
		e, err := trx.Edit(ctx, "note", m.ID())
		must(t, err)
		must(t, e.Set("body", strings.Repeat("m", 250)))
	}
	must(t, trx.Commit(ctx))
	cs := s.next(t)
	if len(cs.Changes) != n {
		t.Fatalf("one commit arrived as a change of %d entities, want %d", len(cs.Changes), n)
	}
	// A Get of many ids streams too.
	ids := make([]id.EntityID, n)
	for i, m := range muts {
		ids[i] = m.ID()
	}
	req := rawSession(t, server, "")
	if r := req(&transport.Request{Get: &transport.GetReq{Collection: "note", IDs: ids}}); r.Error != "" || len(r.States) == 0 || len(r.States) == n {
		t.Fatalf("first part of a large get: error %q, %d states (want a part, not all %d)", r.Error, len(r.States), n)
	}
}

// newClientQuery opens a live query on a fresh client of server.
func newClientQuery(t *testing.T, server *core.Node, coll, q string) (*core.LiveQuery, error) {
	client := newClient(t)
	link(t, server, client)
	lq, err := client.Context(nil).Query(context.Background(), coll, q)
	if err == nil {
		t.Cleanup(lq.Close)
	}
	return lq, err
}

// Finding: no admission control (900,000 ids in one Get, 20,000
// subscriptions on one connection).
func TestAdmission_RequestsAreBounded(t *testing.T) {
	server := newNode(t, core.WithLimits(limits.Limits{MaxIDs: 10, MaxSubscriptions: 3}))
	req := rawSession(t, server, "")
	ids := make([]id.EntityID, 11)
	for i := range ids {
		ids[i][0] = byte(i + 1)
	}
	if r := req(&transport.Request{Get: &transport.GetReq{Collection: "todo", IDs: ids}}); r.Code != transport.CodeLimit || !strings.Contains(r.Error, "max-ids") {
		t.Fatalf("get of 11 ids: %+v", r)
	}
	evIDs := make([]id.EventID, 11)
	if r := req(&transport.Request{GetEvents: &transport.GetEventsReq{Collection: "todo", IDs: evIDs}}); r.Code != transport.CodeLimit {
		t.Fatalf("get-events of 11 ids: %+v", r)
	}
	for i := uint64(1); i <= 4; i++ {
		r := req(&transport.Request{Subscribe: &transport.SubscribeReq{Sub: i, Collection: "todo", Query: "true"}})
		if i <= 3 && r.Error != "" {
			t.Fatalf("subscription %d: %s", i, r.Error)
		}
		if i == 4 && (r.Code != transport.CodeLimit || !strings.Contains(r.Error, "max-subscriptions")) {
			t.Fatalf("subscription over the limit: %+v", r)
		}
	}
	// Re-pointing an existing subscription is not a new one.
	if r := req(&transport.Request{Subscribe: &transport.SubscribeReq{Sub: 2, Collection: "todo", Query: "false"}}); r.Error != "" {
		t.Fatalf("re-point: %s", r.Error)
	}
	// The same limits apply to a client's own requests: its Get of many ids is split.
	client := newClient(t, core.WithLimits(limits.Limits{MaxIDs: 10}))
	link(t, server, client)
	eid := createTodo(t, server.Context(nil), "alice", "x")
	if _, err := client.Context(nil).Get(context.Background(), "todo", eid); err != nil {
		t.Fatal(err)
	}
}

// More requests than max-in-flight are answered at once with ErrBusy, and
// the connection keeps being read and served.
func TestAdmission_RequestsBeyondInFlightAreBusy(t *testing.T) {
	agent := &ownerAgent{}
	server := newNodeOn(t, memory.New(), agent, core.WithLimits(limits.Limits{MaxInFlight: 1}))
	eid := createTodo(t, server.Context(nil), "alice", "x")
	release := make(chan struct{})
	agent.mu.Lock()
	agent.blockRead, agent.blocked = release, make(chan struct{})
	blocked := agent.blocked
	agent.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := transport.Pipe()
	defer b.Close()
	go server.Accept(ctx, a)
	send := func(m *transport.Message) {
		f, err := transport.Encode(m)
		must(t, err)
		must(t, b.Send(ctx, f))
	}
	recv := func() *transport.Message {
		f, err := b.Recv(ctx)
		must(t, err)
		m, err := transport.Decode(f)
		must(t, err)
		return m
	}
	send(&transport.Message{Hello: &transport.Hello{NodeID: "x", Version: transport.ProtocolVersion, Credentials: []byte("alice")}})
	recv()
	get := &transport.GetReq{Collection: "todo", IDs: []id.EntityID{eid}}
	send(&transport.Message{Request: &transport.Request{ID: 1, Get: get}}) // the worker blocks in CheckRead
	<-blocked
	send(&transport.Message{Request: &transport.Request{ID: 2, Get: get}}) // queued
	send(&transport.Message{Request: &transport.Request{ID: 3, Get: get}}) // over the limit
	m := recv()
	if m.Response == nil || m.Response.ID != 3 || m.Response.Code != transport.CodeBusy || !strings.Contains(m.Response.Error, "max-in-flight") {
		t.Fatalf("want request 3 refused busy first, got %+v", m.Response)
	}
	close(release)
	for _, want := range []uint64{1, 2} {
		if m := recv(); m.Response == nil || m.Response.ID != want || m.Response.Error != "" {
			t.Fatalf("want request %d answered, got %+v", want, m.Response)
		}
	}
}

// expiringAgent is ownerAgent whose context data expires at a set time.
type expiringAgent struct {
	ownerAgent
	mu  sync.Mutex
	exp time.Time
}

type expiringUser struct {
	name string
	exp  time.Time
}

func (u expiringUser) ExpiresAt() time.Time { return u.exp }

func (a *expiringAgent) Authenticate(_ context.Context, _ policy.Peer, c []byte) (policy.ContextData, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return expiringUser{name: string(c), exp: a.exp}, nil
}
func (a *expiringAgent) ReadFilter(context.Context, policy.ContextData, string) (query.Expr, error) {
	return nil, nil
}
func (a *expiringAgent) CheckRead(context.Context, policy.ContextData, *entity.State) error {
	return nil
}
func (a *expiringAgent) CheckEvent(context.Context, policy.ContextData, *event.Event, *entity.State, *entity.State) error {
	return nil
}

// Finding: 148 s after exp, Fetch, Commit and Subscribe still worked on the
// open connection and old subscriptions still received updates.
func TestExpiry_ExpiredCredentialsStopTheConnectionUntilRefreshed(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	agent := &expiringAgent{exp: now.Add(time.Minute)}
	server := newNodeOn(t, memory.New(), agent, core.WithClock(clock))
	eid := createTodo(t, server.Context(nil), "alice", "x")

	client := newClient(t)
	p := linkAs(t, server, client, "alice")
	expired := make(chan struct{}, 1)
	p.OnCredentialsExpired(func() { expired <- struct{}{} })
	c := client.Context(nil)
	lq, err := c.Query(ctx, "todo", "true")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t) // Initial

	advance(2 * time.Minute)
	if _, err := c.Fetch(ctx, "todo", "true"); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Fatalf("fetch after expiry: %v", err)
	}
	if err := editTodo(c, eid, "title", "late"); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Fatalf("commit after expiry: %v", err)
	}
	if _, err := c.Query(ctx, "todo", "title = 'y'"); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Fatalf("subscribe after expiry: %v", err)
	}
	select {
	case <-expired:
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not told its credentials expired")
	}
	// Updates stop.
	must(t, editTodo(server.Context(nil), eid, "title", "while expired"))
	other := createTodo(t, server.Context(nil), "bob", "new while expired")
	s.none(t, lq)
	if v, _ := client.Context(nil).Fetch(ctx, "todo", "title = 'while expired'"); len(v) != 0 {
		t.Fatalf("an update reached the client while its credentials were expired")
	}
	// A refresh resumes the connection, and the subscription catches up.
	agent.mu.Lock()
	agent.exp = now.Add(time.Hour)
	agent.mu.Unlock()
	p.RefreshCredentials([]byte("alice"))
	waitFor(t, "the subscription to catch up", func() bool {
		titles := map[id.EntityID]string{}
		for _, v := range lq.Items() {
			titles[v.ID()], _ = v.Get("title").AsString()
		}
		return titles[eid] == "while expired" && titles[other] == "new while expired"
	})
	must(t, editTodo(c, eid, "title", "refreshed"))
}

// Finding: CheckEventRead judged an event by the entity's current state.
func TestEventRead_JudgedByTheStateTheEventProduced(t *testing.T) {
	server := newNodeOn(t, memory.New(), &ownerAgent{})
	admin := server.Context("admin")
	eid := createTodo(t, admin, "alice", "alice's")
	must(t, editTodo(admin, eid, "title", "still alice's"))
	aliceEra := getState(t, server, eid).Head
	must(t, editTodo(admin, eid, "owner", "bob"))
	must(t, editTodo(admin, eid, "title", "bob's"))
	coll, err := server.Engine().Collection(context.Background(), "todo")
	must(t, err)
	all, err := coll.EntityEvents(context.Background(), eid)
	must(t, err)
	var ids []id.EventID
	for i := range all {
		ids = append(ids, all[i].ID())
	}
	readable := func(user string) map[id.EventID]bool {
		r := rawSession(t, server, user)(&transport.Request{GetEvents: &transport.GetEventsReq{Collection: "todo", IDs: ids}})
		if r.Error != "" {
			t.Fatal(r.Error)
		}
		out := map[id.EventID]bool{}
		for i := range r.Events {
			out[r.Events[i].ID()] = true
		}
		return out
	}
	alice, bob := readable("alice"), readable("bob")
	if len(alice) != 2 || len(bob) != 2 {
		t.Fatalf("alice reads %d events, bob %d; want 2 each of 4", len(alice), len(bob))
	}
	for _, e := range aliceEra {
		if !alice[e] || bob[e] {
			t.Fatalf("the last alice-era event: alice %v, bob %v", alice[e], bob[e])
		}
	}
	for e := range bob {
		if alice[e] {
			t.Fatalf("event %s readable by both", e)
		}
	}
}

// lookupEngine is a memory engine that can tell which collections exist and
// counts the ones created.
type lookupEngine struct {
	*memory.Engine
	mu      sync.Mutex
	created map[string]bool
}

func (e *lookupEngine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	e.mu.Lock()
	e.created[name] = true
	e.mu.Unlock()
	return e.Engine.Collection(ctx, name)
}

func (e *lookupEngine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	e.mu.Lock()
	ok := e.created[name]
	e.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: collection %q", storage.ErrNotFound, name)
	}
	return e.Engine.Collection(ctx, name)
}

// Finding: 2,000 Gets naming unknown collections created 2,005 buckets.
func TestReads_NeverCreateCollections(t *testing.T) {
	ctx := context.Background()
	eng := &lookupEngine{Engine: memory.New(), created: map[string]bool{}}
	server := newNodeOn(t, eng, policy.Permissive{})
	eid := createTodo(t, server.Context(nil), "alice", "x")
	before := len(eng.created)
	client := newClient(t)
	link(t, server, client)
	c := client.Context(nil)
	req := rawSession(t, server, "")
	for i := 0; i < 50; i++ {
		coll := fmt.Sprintf("nothing%d", i)
		if _, err := c.Get(ctx, coll, eid); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("get: %v", err)
		}
		if v, err := server.Context(nil).Fetch(ctx, coll, "true"); err != nil || len(v) != 0 {
			t.Fatalf("fetch: %v %d", err, len(v))
		}
		if r := req(&transport.Request{GetEvents: &transport.GetEventsReq{Collection: coll, IDs: []id.EventID{id.EventID(eid)}}}); r.Error != "" {
			t.Fatal(r.Error)
		}
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.created) != before {
		t.Fatalf("reads created %d collections on the server", len(eng.created)-before)
	}
}

// One commit of many sibling events is collapsed as it goes: no merge event
// names more than head-width+1 parents, and every stored event passes the
// limits (so any node can relay it).
func TestLimits_OneCommitOfSiblingsStaysWithinMaxParents(t *testing.T) {
	server := newNode(t, core.WithLimits(limits.Limits{HeadWidth: 4, MaxParents: 8}))
	eid := createTodo(t, server.Context(nil), "alice", "x")
	genesis := getState(t, server, eid).Head
	var evs []event.Event
	for i := 0; i < 100; i++ {
		evs = append(evs, event.Event{Collection: "todo", Entity: eid, Parent: genesis, Operations: rawLWW(t, 2, "title", fmt.Sprint(i))})
	}
	if r := rawSession(t, server, "alice")(&transport.Request{Commit: &transport.CommitReq{Events: evs}}); r.Error != "" {
		t.Fatal(r.Error)
	}
	if w := len(getState(t, server, eid).Head); w > 4 {
		t.Fatalf("head %d wide", w)
	}
	coll, err := server.Engine().Collection(context.Background(), "todo")
	must(t, err)
	all, err := coll.EntityEvents(context.Background(), eid)
	must(t, err)
	for _, ev := range all {
		if len(ev.Parent) > 8 {
			t.Fatalf("a stored event names %d parents (max-parents 8)", len(ev.Parent))
		}
	}
	// Another node relays the whole history through its commit path.
	relay := newNode(t, core.WithLimits(limits.Limits{HeadWidth: 4, MaxParents: 8}))
	req := rawSession(t, relay, "alice")
	g, err := coll.GetEvents(context.Background(), genesis)
	must(t, err)
	if r := req(&transport.Request{Commit: &transport.CommitReq{Events: g}}); r.Error != "" {
		t.Fatal(r.Error)
	}
}

// A client holds states it receives to its own limits: a durable peer with
// larger limits cannot fill it past them.
func TestLimits_ClientRefusesStatesPastItsLimits(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	c := server.Context(nil)
	trx := c.Begin()
	m, err := trx.Create(ctx, "blob")
	must(t, err)
	must(t, m.Set("data", strings.Repeat("x", 100<<10)))
	must(t, trx.Commit(ctx))
	client := newClient(t, core.WithLimits(limits.Limits{MaxStateBytes: 64 << 10}))
	link(t, server, client)
	_, err = client.Context(nil).Fetch(ctx, "blob", "true")
	if !errors.Is(err, core.ErrLimit) {
		t.Fatalf("fetch of a state past the client's max-state-bytes: %v", err)
	}
	coll, err := client.Engine().Collection(ctx, "blob")
	must(t, err)
	if _, err := coll.GetState(ctx, m.ID()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the client stored it anyway: %v", err)
	}
}

// One commit whose updates for a subscriber pass peer-queue-bytes is sent
// whole, in parts: a healthy subscriber is not taken for a slow one.
func TestLimits_LargeCommitReachesSubscribersWhole(t *testing.T) {
	ctx := context.Background()
	server := newNode(t, core.WithLimits(limits.Limits{PeerQueueBytes: 1 << 20, ChunkBytes: 64 << 10}))
	client := newClient(t)
	p := link(t, server, client)
	lq, err := client.Context(nil).Query(ctx, "blob", "true")
	must(t, err)
	defer lq.Close()
	c := server.Context(nil)
	trx := c.Begin()
	for i := 0; i < 40; i++ {
		m, err := trx.Create(ctx, "blob")
		must(t, err)
		must(t, m.Set("data", strings.Repeat(fmt.Sprint(i%10), 60<<10)))
	}
	must(t, trx.Commit(ctx))
	waitFor(t, "all 40 entities reach the subscriber", func() bool { return len(lq.Items()) == 40 })
	select {
	case <-p.Done():
		t.Fatalf("the subscriber was disconnected: %v", p.Err())
	default:
	}
}

// A client whose requests the server refuses as busy (max-in-flight) sends
// them again after a short wait: every one of many concurrent commits
// through one connection to a server that takes one request at a time lands.
func TestAdmission_ClientRetriesBusyRefusals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	server := newNodeOn(t, memory.New(), policy.Permissive{}, core.WithLimits(limits.Limits{MaxInFlight: 1}))
	client := newNode(t, core.WithRole(core.Ephemeral))
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	if _, err := client.Connect(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	c := client.Context(nil)
	const writers = 24
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			trx := c.Begin()
			m, err := trx.Create(ctx, "todo")
			if err == nil {
				err = m.Set("w", w)
			}
			if err == nil {
				err = trx.Commit(ctx)
			}
			errs <- err
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a commit through a busy server failed: %v", err)
		}
	}
	got, err := server.Context(nil).Fetch(ctx, "todo", "true")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers {
		t.Fatalf("the server holds %d of %d commits", len(got), writers)
	}
}
