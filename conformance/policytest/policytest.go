// Package policytest is what any policy agent must do on a node that
// strangers connect to, checked over the sync protocol (in-process Pipe):
// unknown credentials are refused, denied writes leave nothing stored, and
// read filters apply to fetches, gets and live updates alike.
//
// The suite plays an owner-based scenario on the collection "todo": each
// entity has a property "owner"; a user may read and write only the
// entities it owns and may not create entities owned by someone else; an
// admin may do anything. The harness supplies an agent configured that way
// and the credentials of "alice", "bob" and "admin".
package policytest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
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

// Harness configures the agent under test.
type Harness struct {
	// Agent enforces the owner scenario on "todo".
	Agent policy.Agent
	// Credentials returns what a user presents in the handshake.
	Credentials func(user string) []byte
	// Owner is the value of "owner" for a user's entities (its subject).
	Owner func(user string) any
	// System is the context data of trusted server code (may do anything).
	System policy.ContextData
}

type world struct {
	h      Harness
	server *core.Node
}

func (w *world) connect(t *testing.T, user string) (*core.Node, error) {
	t.Helper()
	n, err := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	a, b := transport.Pipe()
	go w.server.Accept(context.Background(), a)
	p, err := n.Connect(context.Background(), b, w.h.Credentials(user))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { p.Close() })
	return n, nil
}

func (w *world) mustConnect(t *testing.T, user string) *core.Node {
	t.Helper()
	n, err := w.connect(t, user)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	return n
}

func create(ctx context.Context, n *core.Node, owner any, title string) (id.EntityID, error) {
	trx := n.Context(nil).Begin()
	m, err := trx.Create(ctx, "todo")
	if err != nil {
		return id.EntityID{}, err
	}
	if err := m.Set("owner", owner); err != nil {
		return id.EntityID{}, err
	}
	if err := m.Set("title", title); err != nil {
		return id.EntityID{}, err
	}
	err = trx.Commit(ctx)
	return m.ID(), err
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	newWorld := func(t *testing.T) *world {
		s, err := core.NewNode(context.Background(), memory.New(), h.Agent)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return &world{h: h, server: s}
	}
	ctx := context.Background()

	t.Run("UnknownCredentialsRefused", func(t *testing.T) {
		w := newWorld(t)
		for _, creds := range [][]byte{nil, []byte("not a token"), append(h.Credentials("alice"), 'x')} {
			n, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
			a, b := transport.Pipe()
			go w.server.Accept(ctx, a)
			_, err := n.Connect(ctx, b, creds)
			if !errors.Is(err, policy.ErrUnauthenticated) {
				t.Errorf("credentials %q: Connect = %v, want ErrUnauthenticated", creds, err)
			}
			n.Close()
		}
	})

	t.Run("OwnerReadsOthersDoNot", func(t *testing.T) {
		w := newWorld(t)
		alice, bob, admin := w.mustConnect(t, "alice"), w.mustConnect(t, "bob"), w.mustConnect(t, "admin")
		aid, err := create(ctx, alice, h.Owner("alice"), "alice's")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := create(ctx, bob, h.Owner("bob"), "bob's"); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.Context(nil).Get(ctx, "todo", aid); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("bob Get alice's todo: %v, want ErrNotFound", err)
		}
		vs, err := bob.Context(nil).Fetch(ctx, "todo", "true")
		if err != nil || len(vs) != 1 || vs[0].Get("title").Raw() != "bob's" {
			t.Errorf("bob Fetch: %d results, %v", len(vs), err)
		}
		vs, err = admin.Context(nil).Fetch(ctx, "todo", "true")
		if err != nil || len(vs) != 2 {
			t.Errorf("admin Fetch: %d results, %v", len(vs), err)
		}
	})

	t.Run("LiveQueriesNeverCarryOthersRows", func(t *testing.T) {
		w := newWorld(t)
		alice, bob := w.mustConnect(t, "alice"), w.mustConnect(t, "bob")
		lq, err := alice.Context(nil).Query(ctx, "todo", "true")
		if err != nil {
			t.Fatal(err)
		}
		defer lq.Close()
		got := make(chan core.ChangeSet, 100)
		lq.Subscribe(func(cs core.ChangeSet) { got <- cs })
		<-got
		if _, err := create(ctx, bob, h.Owner("bob"), "bob's secret"); err != nil {
			t.Fatal(err)
		}
		if _, err := create(ctx, alice, h.Owner("alice"), "alice's"); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case cs := <-got:
				for _, c := range cs.Changes {
					if c.Entity.Get("title").Raw() == "bob's secret" {
						t.Fatal("alice's live query received bob's row")
					}
					if c.Entity.Get("title").Raw() == "alice's" {
						coll, _ := alice.Engine().Collection(ctx, "todo")
						all, _ := coll.FetchStates(ctx, mustBound("true"))
						for _, s := range all {
							if s.Values.Get("title").Raw() == "bob's secret" {
								t.Fatal("bob's row reached alice's node")
							}
						}
						return
					}
				}
			case <-deadline:
				t.Fatal("alice's own row never arrived")
			}
		}
	})

	runAggregates(t, h, newWorld) // aggregates.go
	runRelations(t, h, newWorld)  // relations.go
	runIncludes(t, h, newWorld)   // includes.go

	t.Run("DeniedWritesLeaveNothingStored", func(t *testing.T) {
		w := newWorld(t)
		alice, bob := w.mustConnect(t, "alice"), w.mustConnect(t, "bob")
		aid, err := create(ctx, alice, h.Owner("alice"), "alice's")
		if err != nil {
			t.Fatal(err)
		}
		// Forged authorship: bob creates a todo owned by alice.
		if _, err := create(ctx, bob, h.Owner("alice"), "forged"); !errors.Is(err, policy.ErrAccessDenied) {
			t.Errorf("forged owner: %v, want ErrAccessDenied", err)
		}
		// A hand-crafted edit and delete of alice's entity from bob's connection.
		sc := w.server.Context(h.System)
		v, err := sc.Get(ctx, "todo", aid)
		if err != nil {
			t.Fatal(err)
		}
		for name, ops := range map[string]map[string][]byte{
			"edit":   lwwSet(t, "title", "defaced"),
			"delete": lwwSet(t, "_deleted", true),
		} {
			ev := event.Event{Collection: "todo", Entity: aid, Parent: v.Head(), Operations: ops}
			resp := rawCommit(t, w, "bob", ev)
			if resp.Code != transport.CodeDenied {
				t.Errorf("bob's crafted %s: response %+v, want denied", name, resp)
			}
		}
		// A collection bob may not write.
		g := event.NewGenesis("secrets", lwwSet(t, "x", 1), make([]byte, event.NonceSize), 1)
		if resp := rawCommit(t, w, "bob", g); resp.Code == transport.CodeOK {
			t.Error("write to a collection bob has no rights on was accepted")
		}
		after, err := sc.Get(ctx, "todo", aid)
		if err != nil || after.Get("title").Raw() != "alice's" || !after.Head().Equal(v.Head()) {
			t.Errorf("alice's todo changed: %v %v", after.Values(), err)
		}
		if vs, _ := sc.Fetch(ctx, "todo", "title = 'forged'"); len(vs) != 0 {
			t.Error("forged todo stored")
		}
		coll, _ := w.server.Engine().Collection(ctx, "todo")
		evs, _ := coll.EntityEvents(ctx, aid)
		if len(evs) != 1 {
			t.Errorf("alice's todo has %d events, want 1", len(evs))
		}
		// The admin may delete it.
		admin := w.mustConnect(t, "admin")
		trx := admin.Context(nil).Begin()
		if err := trx.Delete(ctx, "todo", aid); err != nil {
			t.Fatal(err)
		}
		if err := trx.Commit(ctx); err != nil {
			t.Errorf("admin delete: %v", err)
		}
	})
}

func mustBound(q string) *query.Bound {
	b, err := query.ParseBound(q)
	if err != nil {
		panic(err)
	}
	return b
}

// lwwSet is the LWW payload of one property write.
func lwwSet(t *testing.T, prop string, v any) map[string][]byte {
	t.Helper()
	l := property.NewLWW()
	l.Set(prop, value.MustFrom(v))
	ops, err := l.TakeOperations()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{property.LWWName: ops}
}

// rawCommit sends a hand-crafted commit on a fresh connection as user, the
// way a malicious client would, and returns the server's response.
func rawCommit(t *testing.T, w *world, user string, evs ...event.Event) *transport.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := transport.Pipe()
	defer b.Close()
	go w.server.Accept(ctx, a)
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
	send(&transport.Message{Hello: &transport.Hello{NodeID: "mallory", Version: transport.ProtocolVersion, Credentials: w.h.Credentials(user)}})
	if m := recv(); m.Hello == nil {
		t.Fatalf("handshake as %s: %+v", user, m)
	}
	send(&transport.Message{Request: &transport.Request{ID: 1, Commit: &transport.CommitReq{Events: evs}}})
	for {
		if m := recv(); m.Response != nil {
			return m.Response
		}
	}
}
