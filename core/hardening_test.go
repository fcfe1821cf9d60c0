package core_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// ownerAgent: credentials are the user name; users read/write rows whose owner is them; "admin" does all.
type ownerAgent struct {
	denyDelete bool
	writeOnly  bool // users may write but never read
	noFilter   bool // no ReadFilter, CheckRead only (like a rules read rule with `if` and no `where`)
	mu         sync.Mutex
	blockRead  chan struct{} // when set, the next CheckRead of a Get blocks until closed
	blocked    chan struct{}
}

func (a *ownerAgent) Authenticate(_ context.Context, _ policy.Peer, c []byte) (policy.ContextData, error) {
	if len(c) == 0 {
		return nil, fmt.Errorf("%w: no token", policy.ErrUnauthenticated)
	}
	return string(c), nil
}
func (a *ownerAgent) CanAccessCollection(context.Context, policy.ContextData, string) error {
	return nil
}
func (a *ownerAgent) ReadFilter(_ context.Context, cd policy.ContextData, _ string) (query.Expr, error) {
	if cd == "admin" || cd == nil || a.noFilter {
		return nil, nil
	}
	b, err := query.ParseBound("owner = ?", cd)
	if err != nil {
		return nil, err
	}
	return b.Where, nil
}
func (a *ownerAgent) CheckRead(_ context.Context, cd policy.ContextData, st *entity.State) error {
	a.mu.Lock()
	br, bd := a.blockRead, a.blocked
	a.blockRead = nil
	a.mu.Unlock()
	if br != nil {
		close(bd)
		<-br
	}
	if cd == "admin" || cd == nil {
		return nil
	}
	if a.writeOnly {
		return policy.ErrAccessDenied
	}
	if o, _ := st.Values.Get("owner").AsString(); o == cd {
		return nil
	}
	return policy.ErrAccessDenied
}
func (a *ownerAgent) CheckEventRead(ctx context.Context, cd policy.ContextData, _ *event.Event, after *entity.State) error {
	return a.CheckRead(ctx, cd, after)
}
func (a *ownerAgent) CheckEvent(_ context.Context, cd policy.ContextData, _ *event.Event, before, after *entity.State) error {
	if cd == "admin" || cd == nil {
		return nil
	}
	if a.denyDelete && after.Deleted() {
		return fmt.Errorf("%w: deletes are for admins", policy.ErrAccessDenied)
	}
	if before != nil {
		if o, _ := before.Values.Get("owner").AsString(); o != cd {
			return fmt.Errorf("%w: %v may not write this entity", policy.ErrAccessDenied, cd)
		}
	}
	if o, _ := after.Values.Get("owner").AsString(); o != cd {
		return fmt.Errorf("%w: owner must be %v", policy.ErrAccessDenied, cd)
	}
	return nil
}
func (a *ownerAgent) ValidateEvent(context.Context, policy.Peer, *event.Event) error { return nil }
func (a *ownerAgent) ValidateState(context.Context, policy.Peer, *entity.State) error {
	return nil
}

func linkAs(t testing.TB, server, client *core.Node, user string) *core.Peer {
	t.Helper()
	a, b := transport.Pipe()
	go server.Accept(context.Background(), a)
	p, err := client.Connect(context.Background(), b, []byte(user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawLWW encodes LWW operations with a chosen height, as a malicious client may.
func rawLWW(t testing.TB, height uint64, prop string, v any) map[string][]byte {
	type ops struct {
		Height uint64                 `cbor:"1,keyasint"`
		Set    map[string]value.Value `cbor:"2,keyasint"`
	}
	b, err := event.EncMode().Marshal(ops{Height: height, Set: map[string]value.Value{prop: value.MustFrom(v)}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{property.LWWName: b}
}

// rawSession opens a hand-made connection as user and returns a request function.
func rawSession(t testing.TB, server *core.Node, user string) func(r *transport.Request) *transport.Response {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	a, b := transport.Pipe()
	t.Cleanup(func() { b.Close() })
	go server.Accept(ctx, a)
	send := func(m *transport.Message) {
		f, err := transport.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() *transport.Message {
		f, err := b.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m, err := transport.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(&transport.Message{Hello: &transport.Hello{NodeID: "mallory", Version: transport.ProtocolVersion, Credentials: []byte(user)}})
	if m := recv(); m.Hello == nil {
		t.Fatalf("handshake: %+v", m)
	}
	var next uint64
	return func(r *transport.Request) *transport.Response {
		next++
		r.ID = next
		send(&transport.Message{Request: r})
		for {
			if m := recv(); m.Response != nil && m.Response.ID == r.ID {
				return m.Response
			}
		}
	}
}

func createTodo(t testing.TB, c *core.Context, owner, title string) id.EntityID {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	m, err := trx.Create(ctx, "todo")
	must(t, err)
	must(t, m.Set("owner", owner))
	must(t, m.Set("title", title))
	must(t, trx.Commit(ctx))
	return m.ID()
}

func editTodo(c *core.Context, eid id.EntityID, kv ...string) error {
	ctx := context.Background()
	trx := c.Begin()
	m, err := trx.Edit(ctx, "todo", eid)
	if err != nil {
		return err
	}
	for i := 0; i < len(kv); i += 2 {
		if err := m.Set(kv[i], kv[i+1]); err != nil {
			return err
		}
	}
	return trx.Commit(ctx)
}

// Regression: a client-chosen LWW height of MaxUint64 makes every later honest edit fail.
func TestSecurity_ForgedLWWHeightIsRefused(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	eid := createTodo(t, server.Context(nil), "alice", "x")
	v, err := server.Context(nil).Get(ctx, "todo", eid)
	must(t, err)
	req := rawSession(t, server, "mallory")
	ev := event.Event{Collection: "todo", Entity: eid, Parent: v.Head(), Operations: rawLWW(t, math.MaxUint64, "title", "mine forever")}
	if r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}}}); r.Code != transport.CodeInvalid {
		t.Fatalf("a forged height was not refused as invalid: %+v", r)
	}
	err = editTodo(server.Context(nil), eid, "title", "honest")
	t.Logf("honest edit after the attack: %v", err)
	if err != nil {
		t.Errorf("honest edit fails after a MaxUint64-height event: %v", err)
	}
}

// Regression: a Remove in a subscription update carries the entity's *after* state,
// which the subscriber may no longer read.
func TestSecurity_RemoveNeverCarriesUnreadableState(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), &ownerAgent{})
	alice := newClient(t)
	linkAs(t, server, alice, "alice")
	lq, err := alice.Context(nil).Query(ctx, "todo", "true")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t)
	eid := createTodo(t, alice.Context(nil), "alice", "mine")
	s.next(t) // Add
	// The server hands the todo to bob and writes bob's secret into it.
	must(t, editTodo(server.Context(nil), eid, "owner", "bob", "secret", "bob's secret"))
	cs := s.next(t)
	for _, c := range cs.Changes {
		t.Logf("alice sees %s with values %v", c.Kind, c.Entity.Values())
		if c.Entity.Get("secret").Raw() == "bob's secret" {
			t.Errorf("alice's Remove carries bob's secret")
		}
	}
	coll, _ := alice.Engine().Collection(ctx, "todo")
	st, err := coll.GetState(ctx, eid)
	if err == nil && st.Values.Get("secret").Raw() == "bob's secret" {
		t.Errorf("bob's secret is stored in alice's cache")
	}
}

// Regression: writing _deleted=false (or any non-true value) hides a row from every
// query without being a "delete" for the policy agent.
func TestSecurity_ReservedPropertyWritesAreRefused(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), &ownerAgent{denyDelete: true})
	eid := createTodo(t, server.Context(nil), "alice", "visible")
	v, err := server.Context(nil).Get(ctx, "todo", eid)
	must(t, err)
	req := rawSession(t, server, "alice")
	// A real delete is refused.
	del := event.Event{Collection: "todo", Entity: eid, Parent: v.Head(), Operations: rawLWW(t, 2, "_deleted", true)}
	if r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{del}}}); r.Code != transport.CodeDenied {
		t.Fatalf("delete: %+v", r)
	}
	hide := event.Event{Collection: "todo", Entity: eid, Parent: v.Head(), Operations: rawLWW(t, 2, "_deleted", false)}
	if r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{hide}}}); r.Code != transport.CodeInvalid {
		t.Fatalf("a write of _deleted=false was not refused as invalid: %+v", r)
	}
	vs, _ := server.Context(nil).Fetch(ctx, "todo", "true")
	got, gerr := server.Context(nil).Get(ctx, "todo", eid)
	t.Logf("after _deleted=false: Fetch returns %d rows; Get = %v, %v", len(vs), got != nil, gerr)
	if len(vs) == 0 && gerr == nil {
		t.Errorf("row vanished from queries (Get still finds it, Deleted()=%v) although deletes are denied", got.Deleted())
	}
}

// Regression: Connect while a durable peer is connected deadlocks (Connect holds upMu,
// old peer's shutdown -> peerGone wants upMu).
func TestSync_SecondConnectReplacesTheFirst(t *testing.T) {
	server := newNode(t)
	client := newClient(t)
	link(t, server, client)
	done := make(chan error, 1)
	go func() {
		a, b := transport.Pipe()
		go server.Accept(context.Background(), a)
		_, err := client.Connect(context.Background(), b, nil)
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("second Connect returned %v", err)
	case <-time.After(3 * time.Second):
		t.Errorf("second Connect did not return within 3s (deadlock)")
	}
}

// Regression: closing a live query from its own callback deadlocks.
func TestLiveQuery_CloseInsideCallbackReturns(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	lq, err := n.Context(nil).Query(ctx, "album", "true")
	must(t, err)
	done := make(chan struct{})
	lq.Subscribe(func(core.ChangeSet) {
		lq.Close()
		close(done)
	})
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Errorf("LiveQuery.Close inside a Subscribe callback never returns")
	}
}

// Regression: a creation made offline and refused on reconnect stays in the client's cache for good.
func TestSync_RefusedOfflineCreateIsEvicted(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), &ownerAgent{})
	client := newClient(t)
	p := linkAs(t, server, client, "alice")
	p.Close()
	waitFor(t, "disconnect", func() bool {
		select {
		case <-client.Connected():
			return false
		default:
			return true
		}
	})
	trx := client.Context(nil).Begin()
	m, _ := trx.Create(ctx, "todo")
	must(t, m.Set("owner", "bob")) // the server will refuse this
	must(t, m.Set("title", "ghost"))
	must(t, trx.Commit(ctx))
	linkAs(t, server, client, "alice")
	time.Sleep(200 * time.Millisecond)
	if _, err := server.Context(nil).Get(ctx, "todo", m.ID()); err == nil {
		t.Fatal("server stored the refused create")
	}
	vs, err := client.Context(nil).Fetch(ctx, "todo", "true")
	t.Logf("client Fetch after reconnect: %d rows, %v", len(vs), err)
	if len(vs) != 0 {
		t.Errorf("refused offline create still served from the client's cache")
	}
}

// Regression: entities cached earlier that no longer match on the server appear in
// Fetch / Query results of an ephemeral node.
func TestSync_StaleCachedRowsAreEvicted(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	client := newClient(t)
	link(t, server, client)
	ids := createAlbums(t, server.Context(nil), album{"Showbiz", "Muse", 1999})
	if _, err := client.Context(nil).Get(ctx, "album", ids[0]); err != nil {
		t.Fatal(err)
	}
	// The server deletes it; the client is not subscribed.
	trx := server.Context(nil).Begin()
	must(t, trx.Delete(ctx, "album", ids[0]))
	must(t, trx.Commit(ctx))
	vs, _ := client.Context(nil).Fetch(ctx, "album", "artist = 'Muse'")
	lq, err := client.Context(nil).Query(ctx, "album", "artist = 'Muse'")
	must(t, err)
	defer lq.Close()
	t.Logf("server has 0 live rows; client Fetch = %v, Query = %v", names(vs), names(lq.Items()))
	if len(vs) != 0 || len(lq.Items()) != 0 {
		t.Errorf("deleted-on-server entity returned by the ephemeral node")
	}
}

// Regression: commit errors tell whether an entity the caller may not read exists.
func TestSecurity_CommitErrorsDoNotRevealExistence(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), &ownerAgent{})
	secret := createTodo(t, server.Context(nil), "alice", "alice's")
	req := rawSession(t, server, "bob")
	probe := func(eid id.EntityID) string {
		ev := event.Event{Collection: "todo", Entity: eid, Parent: event.NewClock(id.EventID(eid)), Operations: rawLWW(t, 2, "owner", "bob")}
		r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}}})
		return fmt.Sprintf("code=%d %s", r.Code, r.Error)
	}
	exists, missing := probe(secret), probe(id.EntityID{1, 2, 3})
	t.Logf("existing: %s\nmissing:  %s", exists, missing)
	_ = ctx
	if exists[:7] != missing[:7] || strings.Contains(exists, "denied") != strings.Contains(missing, "denied") {
		t.Errorf("bob can tell an existing unreadable entity from a missing one")
	}
}

// Regression: an event whose parents include an unknown event id is accepted (the
// DAG walk stops before checking every parent), and later concurrent edits fail.
func TestSecurity_UnknownParentsAreRefused(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	eid := createTodo(t, server.Context(nil), "alice", "x")
	g, _ := server.Context(nil).Get(ctx, "todo", eid)
	genesisHead := g.Head()
	must(t, editTodo(server.Context(nil), eid, "title", "h"))
	v, _ := server.Context(nil).Get(ctx, "todo", eid)
	req := rawSession(t, server, "mallory")
	bogus := id.EventID{0xde, 0xad}
	ev := event.Event{Collection: "todo", Entity: eid, Parent: event.NewClock(append([]id.EventID{bogus}, v.Head()...)...), Operations: rawLWW(t, 3, "title", "y")}
	r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}}})
	t.Logf("event with an unknown parent: %q", r.Error)
	if r.Error == "" {
		t.Errorf("event with an unknown parent %s accepted", bogus)
	}
	// An honest concurrent edit made offline on the genesis head now cannot merge.
	honest := event.Event{Collection: "todo", Entity: eid, Parent: genesisHead, Operations: rawLWW(t, 2, "title", "z")}
	err := core.ApplyEventsForTest(ctx, server, []event.Event{honest})
	t.Logf("concurrent honest edit: %v", err)
	if err != nil {
		t.Errorf("concurrent edit fails after the bogus parent: %v", err)
	}
}

// Regression: the commit response carries the full after state, unchecked by CheckRead.
func TestSecurity_CommitResponseHoldsOnlyReadableStates(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), &ownerAgent{writeOnly: true})
	client := newClient(t)
	linkAs(t, server, client, "alice")
	eid := createTodo(t, server.Context(nil), "alice", "x")
	must(t, editTodo(server.Context(nil), eid, "note", "server-side note"))
	v, _ := server.Context(nil).Get(ctx, "todo", eid)
	req := rawSession(t, server, "alice")
	ev := event.Event{Collection: "todo", Entity: eid, Parent: v.Head(), Operations: rawLWW(t, 9, "title", "y")}
	r := req(&transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}}})
	for _, st := range r.States {
		t.Logf("write-only caller received state with values %v", st.Values)
		if st.Values.Get("note").Raw() == "server-side note" {
			t.Errorf("write-only caller receives a state it may not read")
		}
	}
}

// Regression: refreshed credentials do not apply to existing subscriptions.
func TestSecurity_RefreshedCredentialsRerunSubscriptions(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), &ownerAgent{})
	client := newClient(t)
	p := linkAs(t, server, client, "admin")
	lq, err := client.Context(nil).Query(ctx, "todo", "true")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t)
	p.RefreshCredentials([]byte("alice")) // demoted
	// The refresh is processed before the next request on this connection.
	if _, err := client.Context(nil).Fetch(ctx, "todo", "true"); err != nil {
		t.Fatal(err)
	}
	createTodo(t, server.Context(nil), "bob", "bob's secret")
	select {
	case cs := <-s.ch:
		t.Errorf("after refreshing to alice, the subscription still delivers %v", kinds(cs))
	case <-time.After(500 * time.Millisecond):
	}
}

var _ = errors.Is

// Regression: an edit on an ephemeral node starts from its (stale) cached state even
// while connected, so the new write loses LWW to older writes it never saw.
func TestSync_ConnectedEditStartsFromServerState(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	client := newClient(t)
	link(t, server, client)
	eid := createTodo(t, server.Context(nil), "alice", "v0")
	if _, err := client.Context(nil).Get(ctx, "todo", eid); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"v1", "v2", "v3"} {
		must(t, editTodo(server.Context(nil), eid, "title", s))
	}
	must(t, editTodo(client.Context(nil), eid, "title", "client's latest"))
	v, _ := server.Context(nil).Get(ctx, "todo", eid)
	t.Logf("after the client's (later) edit, the server says title=%v", v.Get("title"))
	if v.Get("title").Raw() != "client's latest" {
		t.Errorf("connected client's edit silently lost to older writes (edited from a stale cache)")
	}
	gv, _ := client.Context(nil).Get(ctx, "todo", eid)
	t.Logf("client Get now: %v", gv.Get("title"))
}

// R6b: commit responses are queued after commitMu is released, so a client can
// receive its own commit's (older) state after a newer subscription update.
func TestSync_CacheNeverGoesBackwards(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	c1, c2 := newClient(t), newClient(t)
	link(t, server, c1)
	link(t, server, c2)
	eid := createTodo(t, server.Context(nil), "alice", "v0")
	var regressions []string
	var rmu sync.Mutex
	for ci, c := range []*core.Node{c1, c2} {
		lq, err := c.Context(nil).Query(ctx, "todo", "true")
		must(t, err)
		defer lq.Close()
		seen := map[string]bool{}
		last := ""
		lq.Subscribe(func(cs core.ChangeSet) {
			for _, ch := range cs.Changes {
				h := ch.Entity.Head().String()
				if h != last && seen[h] {
					rmu.Lock()
					regressions = append(regressions, fmt.Sprintf("client %d back to %v", ci, ch.Entity.Get("title")))
					rmu.Unlock()
				}
				seen[h] = true
				last = h
			}
		})
	}
	var wg sync.WaitGroup
	for i, c := range []*core.Node{c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 1500; k++ {
				if err := editTodo(c.Context(nil), eid, "title", fmt.Sprintf("c%d-%d", i, k)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	rmu.Lock()
	if len(regressions) > 0 {
		t.Errorf("%d regressions to an earlier state, e.g. %v", len(regressions), regressions[:min(3, len(regressions))])
	}
	rmu.Unlock()
	sc, _ := server.Engine().Collection(ctx, "todo")
	sst, _ := sc.GetState(ctx, eid)
	for i, c := range []*core.Node{c1, c2} {
		cc, _ := c.Engine().Collection(ctx, "todo")
		st, _ := cc.GetState(ctx, eid)
		if !st.Head.Equal(sst.Head) {
			t.Errorf("client %d cache head %v title %v; server head %v title %v", i, st.Head, st.Values.Get("title"), sst.Head, sst.Values.Get("title"))
		}
	}
}

// Regression: LIMIT is applied by the engine before CheckRead drops rows, so a
// LIMITed fetch/live query returns fewer rows than it should.
func TestPolicy_LimitFilledAfterPerRowChecks(t *testing.T) {
	ctx := context.Background()
	server := newNodeOn(t, memory.New(), &ownerAgent{noFilter: true})
	sc := server.Context(nil)
	for i, o := range []string{"bob", "bob", "bob", "alice", "alice"} {
		trx := sc.Begin()
		m, _ := trx.Create(ctx, "todo")
		must(t, m.Set("owner", o))
		must(t, m.Set("rank", i))
		must(t, trx.Commit(ctx))
	}
	vs, err := server.Context("alice").Fetch(ctx, "todo", "true ORDER BY rank LIMIT 2")
	must(t, err)
	lq, err := server.Context("alice").Query(ctx, "todo", "true ORDER BY rank LIMIT 2")
	must(t, err)
	defer lq.Close()
	t.Logf("alice owns 2 rows; LIMIT 2 gives Fetch %d, live query %d", len(vs), len(lq.Items()))
	if len(vs) != 2 || len(lq.Items()) != 2 {
		t.Errorf("LIMIT applied before the per-row read check")
	}
}

type flakyAgent struct {
	policy.Permissive
	mu    sync.Mutex
	fails int
}

func (a *flakyAgent) CheckEvent(context.Context, policy.ContextData, *event.Event, *entity.State, *entity.State) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fails > 0 {
		a.fails--
		return errors.New("storage briefly unavailable")
	}
	return nil
}

// Regression: an offline commit that meets any non-disconnect error on resend
// (a transient server error, the ws dial context's 10 s deadline) is dropped for good.
func TestSync_OfflineEditsSurviveTransientErrors(t *testing.T) {
	ctx := context.Background()
	agent := &flakyAgent{}
	server := newNodeOn(t, memory.New(), agent)
	eid := createTodo(t, server.Context(nil), "alice", "v0")
	client := newClient(t)
	p := link(t, server, client)
	if _, err := client.Context(nil).Get(ctx, "todo", eid); err != nil {
		t.Fatal(err)
	}
	p.Close()
	waitFor(t, "disconnect", func() bool {
		select {
		case <-client.Connected():
			return false
		default:
			return true
		}
	})
	must(t, editTodo(client.Context(nil), eid, "title", "offline"))
	agent.mu.Lock()
	agent.fails = 1
	agent.mu.Unlock()
	link(t, server, client)
	time.Sleep(200 * time.Millisecond)
	sv, _ := server.Context(nil).Get(ctx, "todo", eid)
	cv, _ := client.Context(nil).Get(ctx, "todo", eid)
	t.Logf("server title %v, client title %v", sv.Get("title"), cv.Get("title"))
	if sv.Get("title").Raw() != "offline" && cv.Get("title").Raw() != "offline" {
		t.Errorf("offline edit lost after one transient error")
	}
}

// Regression: on an ephemeral node, one server commit can reach a live query as
// several ChangeSets (one per server-side subscription that carried part of it).
func TestSync_OneServerCommitIsOneClientChangeSet(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	client := newClient(t)
	link(t, server, client)
	ids := createAlbums(t, server.Context(nil), album{"A", "Muse", 1}, album{"B", "Muse", 2})
	lqa, err := client.Context(nil).Query(ctx, "album", "name = 'A'")
	must(t, err)
	defer lqa.Close()
	lqb, err := client.Context(nil).Query(ctx, "album", "true")
	must(t, err)
	defer lqb.Close()
	s := collect(lqb)
	s.next(t)
	trx := server.Context(nil).Begin()
	for _, eid := range ids {
		m, _ := trx.Edit(ctx, "album", eid)
		must(t, m.Set("year", 3))
	}
	must(t, trx.Commit(ctx))
	first := s.next(t)
	time.Sleep(200 * time.Millisecond)
	n := 1
	for len(s.ch) > 0 {
		<-s.ch
		n++
	}
	t.Logf("one server commit -> %d ChangeSets on the client's 'true' query (first: %s)", n, kinds(first))
	if n != 1 {
		t.Errorf("one commit delivered as %d ChangeSets", n)
	}
}

// Regression: a durable node gets a fresh system id on every start (nothing persists
// it; ankurah serve passes none), so a server restart makes every client drop
// its cache and its unsent offline commits.
func TestSync_ServerRestartKeepsOfflineEdits(t *testing.T) {
	ctx := context.Background()
	engine := memory.New()
	first := newNodeOn(t, engine, policy.Permissive{})
	eid := createTodo(t, first.Context(nil), "alice", "v0")
	client := newClient(t)
	p := link(t, first, client)
	if _, err := client.Context(nil).Get(ctx, "todo", eid); err != nil {
		t.Fatal(err)
	}
	p.Close()
	waitFor(t, "disconnect", func() bool {
		select {
		case <-client.Connected():
			return false
		default:
			return true
		}
	})
	must(t, editTodo(client.Context(nil), eid, "title", "offline"))
	first.Close()
	restarted := newNodeOn(t, engine, policy.Permissive{}) // same storage, "after a restart"
	t.Logf("system id before %s, after restart %s", first.SystemID(), restarted.SystemID())
	link(t, restarted, client)
	time.Sleep(200 * time.Millisecond)
	v, _ := restarted.Context(nil).Get(ctx, "todo", eid)
	if v.Get("title").Raw() != "offline" {
		t.Errorf("offline edit discarded because the restarted server has a new system id (server title %v)", v.Get("title"))
	}
}

type plainEngine struct{ storage.Engine } // like bolt or IndexedDB: no storage.Clearer

// R17b: with a cache engine that is not a Clearer (only memory is), a client
// can never reconnect after the server restarted.
func TestSync_ServerRestartDoesNotLockOutClients(t *testing.T) {
	engine := memory.New()
	first := newNodeOn(t, engine, policy.Permissive{})
	client := newNodeOn(t, plainEngine{memory.New()}, policy.Permissive{}, core.WithRole(core.Ephemeral))
	p := link(t, first, client)
	p.Close()
	first.Close()
	restarted := newNodeOn(t, engine, policy.Permissive{})
	a, b := transport.Pipe()
	go restarted.Accept(context.Background(), a)
	_, err := client.Connect(context.Background(), b, nil)
	t.Logf("reconnect after server restart: %v", err)
	if err != nil {
		t.Errorf("client cannot reconnect after a server restart")
	}
}
