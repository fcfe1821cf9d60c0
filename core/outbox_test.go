package core_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// cutAfterHello is a client's end of a connection that sends the handshake
// and then drops: the client meets the server (and its system id) but
// cannot send anything more.
type cutAfterHello struct {
	transport.Connection
	sent atomic.Int32
}

func (c *cutAfterHello) Send(ctx context.Context, frame []byte) error {
	if c.sent.Add(1) > 1 {
		c.Connection.Close()
		return transport.ErrClosed
	}
	return c.Connection.Send(ctx, frame)
}

// clearOnly hides memory's storage.KeepingClearer: an engine that can only
// clear everything.
type clearOnly struct {
	storage.Engine
	m *memory.Engine
}

func (e clearOnly) Clear(ctx context.Context) error { return e.m.Clear(ctx) }

var _ storage.Clearer = clearOnly{}

// Regression (simulation seed 589, cleared-outbox): a client that met a
// durable peer of another system dropped its cache with the outbox records
// of its unsent commits; restarted before it could send them, it lost
// commits it had acknowledged.
func TestSync_NewSystemKeepsUnsentCommitsAcrossARestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache func() storage.Engine
	}{
		{"KeepingClearer", func() storage.Engine { return memory.New() }},
		{"Clearer", func() storage.Engine { m := memory.New(); return clearOnly{m, m} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if _, ok := tc.cache().(storage.KeepingClearer); ok != (tc.name == "KeepingClearer") {
				t.Fatalf("%s cache: KeepingClearer %v", tc.name, ok)
			}
			cache := tc.cache()
			first := newNode(t, core.WithSystemID("system-one"))
			client := newNodeOn(t, cache, policy.Permissive{}, core.WithRole(core.Ephemeral))
			link(t, first, client).Close()
			// Offline: a creation waits in the outbox.
			ids := createAlbums(t, client.Context(nil), album{"made offline", "x", 1})
			other := newNode(t, core.WithSystemID("system-two"))
			a, b := transport.Pipe()
			go other.Accept(ctx, a)
			p, err := client.Connect(ctx, &cutAfterHello{Connection: b}, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.Close()
			// The cache was dropped (another system), the commit not sent.
			if _, err := other.Context(nil).Get(ctx, "album", ids[0]); err == nil {
				t.Fatal("the commit was sent over a connection that drops after its handshake")
			}
			client.Close()
			restarted := newNodeOn(t, cache, policy.Permissive{}, core.WithRole(core.Ephemeral))
			if n := core.OutboxLenForTest(restarted); n != 1 {
				t.Fatalf("%d batches wait in the outbox after the cache was dropped and the client restarted, want 1", n)
			}
			link(t, other, restarted)
			if _, err := other.Context(nil).Get(ctx, "album", ids[0]); err != nil {
				t.Fatalf("the commit made offline did not reach the new system after the restart: %v", err)
			}
		})
	}
}

// cutOnFirstAnswer is a client's end of a connection that drops when the
// first frame after the handshake arrives: the durable peer stored what the
// client sent, and its answer is lost.
type cutOnFirstAnswer struct {
	transport.Connection
	recvd atomic.Int32
}

func (c *cutOnFirstAnswer) Recv(ctx context.Context) ([]byte, error) {
	f, err := c.Connection.Recv(ctx)
	if err == nil && c.recvd.Add(1) > 1 {
		c.Connection.Close()
		return nil, transport.ErrClosed
	}
	return f, err
}

// Regression (simulation seeds 72, 180, 277, 295, redundant-head): a client
// re-sending an edit the server already had — the first answer lost with
// the connection — was answered with the entity's state, whose head
// descends from the edit without naming it; the client applied the edit
// again on top, and its cached head listed the edit beside its descendant.
func TestSync_ResentEditAnsweredWithADescendantKeepsTheServersHead(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
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
	// Sent and stored; the answer is lost.
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	if _, err := client.Connect(ctx, &cutOnFirstAnswer{Connection: b}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edit on the server", func() bool {
		v, err := server.Context(nil).Get(ctx, "todo", eid)
		return err == nil && v.Get("title").Raw() == "offline"
	})
	if n := core.OutboxLenForTest(client); n != 1 {
		t.Fatalf("%d batches wait, want the one whose answer was lost", n)
	}
	// Another edit on top, so the server's head no longer names the client's.
	must(t, editTodo(server.Context(nil), eid, "owner", "bob"))
	link(t, server, client) // re-sends the edit
	sv, err := server.Context(nil).Get(ctx, "todo", eid)
	must(t, err)
	coll, err := client.Engine().Collection(ctx, "todo")
	must(t, err)
	cached, err := coll.GetState(ctx, eid)
	must(t, err)
	if !cached.Head.Equal(sv.Head()) {
		t.Fatalf("the client caches head %v, the server's is %v", cached.Head, sv.Head())
	}
	if n := core.OutboxLenForTest(client); n != 0 {
		t.Fatalf("%d batches still wait after the re-sent edit was answered", n)
	}
}

// Regression (simulation seed 1824): offline, a client created an entity,
// changed it in a transaction with an entity the server then lost (a new
// system), and edited it again. The server refused the transaction, and the
// last edit — building on it — failed as a missing ancestor, which the
// client took for a passing failure: the edit stayed in its outbox for
// good, and every state of the entity from the server failed to store under
// it ("height 3, this state allows at most 2"), so fetches failed.
func TestSync_CommitBuildingOnARefusedOneIsRefusedToo(t *testing.T) {
	ctx := context.Background()
	first := newNode(t, core.WithSystemID("system-one"))
	other := createTodo(t, first.Context(nil), "alice", "only on the first system")
	client := newClient(t)
	p := link(t, first, client)
	if _, err := client.Context(nil).Get(ctx, "todo", other); err != nil {
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
	c := client.Context(nil)
	eid := createTodo(t, c, "bob", "made offline")
	trx := c.Begin()
	for _, e := range []id.EntityID{eid, other} {
		m, err := trx.Edit(ctx, "todo", e)
		must(t, err)
		must(t, m.Set("title", "edited together"))
	}
	must(t, trx.Commit(ctx))
	must(t, editTodo(c, eid, "title", "edited after"))
	second := newNode(t, core.WithSystemID("system-two"))
	link(t, second, client)
	if n := core.OutboxLenForTest(client); n != 0 {
		t.Fatalf("%d batches still wait after the new system answered every one", n)
	}
	sv, err := second.Context(nil).Get(ctx, "todo", eid)
	must(t, err)
	if got := sv.Get("title").Raw(); got != "made offline" {
		t.Fatalf("the new system has title %v, want the creation's only", got)
	}
	vs, err := c.Fetch(ctx, "todo", "true")
	if err != nil {
		t.Fatalf("fetch on the client: %v", err)
	}
	if len(vs) != 1 || vs[0].ID() != eid || !vs[0].Head().Equal(sv.Head()) {
		t.Fatalf("the client fetches %d entities (%v), want %s at the new system's head %v", len(vs), vs, eid, sv.Head())
	}
}

// Regression (simulation seeds 6021, 3511): re-pointing a client's live
// query told the durable peer of no cached entity, so a cached row the new
// selection matched here, changed on the server while no subscription
// followed it, stayed in the result at its old state.
func TestSync_RepointedLiveQueryRefreshesStaleCachedRows(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	eid := createTodo(t, server.Context(nil), "alice", "v0")
	client := newClient(t)
	link(t, server, client)
	c := client.Context(nil)
	if _, err := c.Get(ctx, "todo", eid); err != nil { // cached, not followed
		t.Fatal(err)
	}
	lq, err := c.Query(ctx, "todo", "title = 'nothing'")
	must(t, err)
	defer lq.Close()
	must(t, editTodo(server.Context(nil), eid, "title", "v1"))
	must(t, lq.UpdateSelection(ctx, "title = 'v0'"))
	if items := lq.Items(); len(items) != 0 {
		t.Fatalf("the re-pointed live query holds %d rows (%v at %v), the server none", len(items), items[0].Get("title"), items[0].Head())
	}
}

// hiding is a permissive agent that, while hidden is set, lets no one read
// any entity.
type hiding struct {
	policy.Permissive
	hidden atomic.Bool
}

func (h *hiding) CheckRead(ctx context.Context, cd policy.ContextData, st *entity.State) error {
	if h.hidden.Load() {
		return policy.ErrAccessDenied
	}
	return nil
}

// Regression (simulation seed 1589, in part): a client keeps a stub (deleted,
// no data, the same head) of an entity the server stops giving it; when the
// server gave the entity again at that head, the client took the state for
// the one it had stored and kept the stub.
func TestSync_StateAtAnEvictedStubsHeadIsStored(t *testing.T) {
	ctx := context.Background()
	agent := &hiding{}
	server := newNodeOn(t, memory.New(), agent)
	eid := createTodo(t, server.Context(nil), "alice", "v0")
	client := newClient(t)
	link(t, server, client)
	c := client.Context(nil)
	if _, err := c.Get(ctx, "todo", eid); err != nil {
		t.Fatal(err)
	}
	agent.hidden.Store(true)
	if _, err := c.Get(ctx, "todo", eid); err == nil {
		t.Fatal("the client still reads an entity the server no longer gives it")
	}
	agent.hidden.Store(false)
	v, err := c.Get(ctx, "todo", eid)
	if err != nil {
		t.Fatalf("readable again on the server at the same head, the client reads: %v", err)
	}
	if got := v.Get("title").Raw(); got != "v0" {
		t.Fatalf("title %v, want v0", got)
	}
}

// Regression (simulation seeds 10963, 16123): a client's LIMITed live query
// refilled its window from the cache with a row no subscription followed —
// cached earlier, changed on the server since — and kept it: the server's
// window never held the row, so nothing it sent corrected it.
func TestSync_LimitedLiveQueryRefreshesRowsItRefillsFromTheCache(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	s := server.Context(nil)
	a := createTodo(t, s, "alice", "a")
	b := createTodo(t, s, "alice", "b")
	c := createTodo(t, s, "alice", "c")
	client := newClient(t)
	link(t, server, client)
	cc := client.Context(nil)
	if _, err := cc.Get(ctx, "todo", c); err != nil { // cached, not followed
		t.Fatal(err)
	}
	lq, err := cc.Query(ctx, "todo", "true ORDER BY title LIMIT 2")
	must(t, err)
	defer lq.Close()
	must(t, editTodo(s, c, "title", "z")) // outside the window: the client is not told
	must(t, editTodo(s, b, "title", "y")) // still in it: the client refills from its cache
	want := fmt.Sprint([]id.EntityID{a, b})
	waitFor(t, "the server's window "+want+" with b edited", func() bool {
		var got []id.EntityID
		items := lq.Items()
		for _, v := range items {
			got = append(got, v.ID())
		}
		return fmt.Sprint(got) == want && items[1].Get("title").Raw() == "y"
	})
}
