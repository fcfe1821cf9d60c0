package core_test

import (
	"bytes"
	"context"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// tap is a connection between a client and a server that records the
// commit requests and their answers passing through, and can make the
// client's hello claim an older protocol version (so both ends speak it).
type tap struct {
	mu      sync.Mutex
	commits map[uint64]*transport.CommitReq
	answers map[uint64][]*transport.Response // by request id, the commit's answer parts
	gets    map[uint64]*transport.GetReq
	got     map[uint64][]*transport.Response // by request id, the get's answer parts
}

// linkTapped connects client to server through a tap; version, when not 0,
// replaces the version the client's hello offers.
func linkTapped(t *testing.T, server, client *core.Node, version uint32) *tap {
	t.Helper()
	tp := &tap{commits: map[uint64]*transport.CommitReq{}, answers: map[uint64][]*transport.Response{},
		gets: map[uint64]*transport.GetReq{}, got: map[uint64][]*transport.Response{}}
	sa, sb := transport.Pipe()
	ca, cb := transport.Pipe()
	go server.Accept(context.Background(), sa)
	forward := func(from, to transport.Connection, up bool) {
		ctx := context.Background()
		defer from.Close()
		defer to.Close()
		for {
			f, err := from.Recv(ctx)
			if err != nil {
				return
			}
			if m, err := transport.Decode(f); err == nil {
				tp.mu.Lock()
				switch {
				case up && m.Hello != nil && version != 0:
					m.Hello.Version = version
					f, _ = transport.Encode(m)
				case up && m.Request != nil && m.Request.Commit != nil:
					tp.commits[m.Request.ID] = m.Request.Commit
				case !up && m.Response != nil && tp.commits[m.Response.ID] != nil:
					tp.answers[m.Response.ID] = append(tp.answers[m.Response.ID], m.Response)
				case up && m.Request != nil && m.Request.Get != nil:
					tp.gets[m.Request.ID] = m.Request.Get
				case !up && m.Response != nil && tp.gets[m.Response.ID] != nil:
					tp.got[m.Response.ID] = append(tp.got[m.Response.ID], m.Response)
				}
				tp.mu.Unlock()
			}
			if to.Send(ctx, f) != nil {
				return
			}
		}
	}
	go forward(ca, sb, true)
	go forward(sb, ca, false)
	p, err := client.Connect(context.Background(), cb, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return tp
}

// last returns the last commit request through the tap and its answer: how
// many states it carried for eid, and whether it listed eid unchanged.
func (tp *tap) last(t *testing.T, eid id.EntityID) (req *transport.CommitReq, states int, unchanged bool) {
	t.Helper()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	rid := lastID(t, "commit", tp.commits)
	states, unchanged = tally(t, "commit", tp.answers[rid], eid)
	return tp.commits[rid], states, unchanged
}

// lastGet is last for get requests.
func (tp *tap) lastGet(t *testing.T, eid id.EntityID) (req *transport.GetReq, states int, unchanged bool) {
	t.Helper()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	rid := lastID(t, "get", tp.gets)
	states, unchanged = tally(t, "get", tp.got[rid], eid)
	return tp.gets[rid], states, unchanged
}

// lastID is the highest request id among reqs (what: the kind, for the
// failure message).
func lastID[R any](t *testing.T, what string, reqs map[uint64]R) uint64 {
	t.Helper()
	var last uint64
	for rid := range reqs {
		last = max(last, rid)
	}
	if last == 0 {
		t.Fatalf("no %s went through", what)
	}
	return last
}

// tally counts an answer's states of eid and reports whether it listed eid
// unchanged, failing on a refusal.
func tally(t *testing.T, what string, parts []*transport.Response, eid id.EntityID) (states int, unchanged bool) {
	t.Helper()
	for _, r := range parts {
		if r.Error != "" {
			t.Fatalf("%s refused: %s", what, r.Error)
		}
		for _, s := range r.States {
			if s.ID == eid {
				states++
			}
		}
		for _, u := range r.Unchanged {
			unchanged = unchanged || u == eid
		}
	}
	return states, unchanged
}

// cachedState reads an entity straight from an engine (no fetch).
func cachedState(t *testing.T, e *memory.Engine, collection string, eid id.EntityID) entity.State {
	t.Helper()
	ctx := context.Background()
	coll, err := e.Collection(ctx, collection)
	must(t, err)
	st, err := coll.GetState(ctx, eid)
	must(t, err)
	return st
}

// sameState fails unless the client's cached state is the server's, byte
// for byte.
func sameState(t *testing.T, what string, client, server entity.State) {
	t.Helper()
	if !client.Head.Equal(server.Head) || !maps.EqualFunc(client.Backends.Map(), server.Backends.Map(), bytes.Equal) || client.Values.Len() != server.Values.Len() {
		t.Fatalf("%s: the client holds head %v, %d values; the server %v, %d values", what, client.Head, client.Values.Len(), server.Head, server.Values.Len())
	}
	for k, v := range server.Values.All() {
		if !value.Equal(client.Values.Get(k), v) {
			t.Fatalf("%s: %q is %v on the client, %v on the server", what, k, client.Values.Get(k), v)
		}
	}
}

func editSet(t *testing.T, c *core.Context, eid id.EntityID, prop string, v any) {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	m, err := trx.Edit(ctx, "album", eid)
	must(t, err)
	must(t, m.Set(prop, v))
	must(t, trx.Commit(ctx))
}

// A version-6 commit names the heads the client computed, and the answer
// lists those entities unchanged instead of sending their states back: the
// client stores the state it computed, which is the server's.
func TestCommitAnswer_NamesTheComputedHeadInsteadOfTheState(t *testing.T) {
	server, ce := newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp := linkTapped(t, server, client, 0)
	c := client.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 2000})
	req, states, unchanged := tp.last(t, ids[0])
	if len(req.Expect) != 1 || states != 0 || !unchanged {
		t.Fatalf("creation: %d expected heads, %d states, unchanged %v; want 1, 0, true", len(req.Expect), states, unchanged)
	}
	for i := range 3 {
		editSet(t, c, ids[0], "year", 2001+i)
		req, states, unchanged = tp.last(t, ids[0])
		if len(req.Expect) != 1 || states != 0 || !unchanged {
			t.Fatalf("edit %d: %d expected heads, %d states, unchanged %v; want 1, 0, true", i, len(req.Expect), states, unchanged)
		}
		v, err := server.Context(nil).Get(context.Background(), "album", ids[0])
		must(t, err)
		sameState(t, "after an edit", cachedState(t, ce, "album", ids[0]), v.State())
	}
}

// When the server's state is not the one the client computed (another
// writer's commit landed between the client's Edit and its Commit), the
// answer carries the merged state, and the client holds both writes. (On
// version 8: from version 9 such a commit is refused as stale and made
// again, currentedit_test.go.)
func TestCommitAnswer_CarriesTheStateWhenAConcurrentWriteMergedIn(t *testing.T) {
	ctx := context.Background()
	server, ce := newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp := linkTapped(t, server, client, 8)
	c := client.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 2000})
	trx := c.Begin()
	m, err := trx.Edit(ctx, "album", ids[0])
	must(t, err)
	editSet(t, server.Context(nil), ids[0], "name", "written on the server")
	must(t, m.Set("year", 2024))
	must(t, trx.Commit(ctx))
	req, states, unchanged := tp.last(t, ids[0])
	if len(req.Expect) != 1 || states != 1 || unchanged {
		t.Fatalf("%d expected heads, %d states, unchanged %v; want 1, 1, false", len(req.Expect), states, unchanged)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	got := cachedState(t, ce, "album", ids[0])
	sameState(t, "after the merge", got, v.State())
	if name, _ := got.Values.Get("name").AsString(); name != "written on the server" || !value.Equal(got.Values.Get("year"), v.Get("year")) {
		t.Fatalf("the client holds %v", got.Values)
	}
}

// Between a version-6 node and a peer speaking version 5 (either side
// older), the commit names no heads and its answer carries the states, as
// before; a version-5 connection that sends expected heads is refused.
func TestCommitAnswer_OlderVersionSendsTheStates(t *testing.T) {
	server, ce := newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp := linkTapped(t, server, client, 5)
	c := client.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 2000})
	editSet(t, c, ids[0], "year", 2001)
	req, states, unchanged := tp.last(t, ids[0])
	if len(req.Expect) != 0 || states != 1 || unchanged {
		t.Fatalf("version 5: %d expected heads, %d states, unchanged %v; want 0, 1, false", len(req.Expect), states, unchanged)
	}
	v, err := server.Context(nil).Get(context.Background(), "album", ids[0])
	must(t, err)
	sameState(t, "version 5", cachedState(t, ce, "album", ids[0]), v.State())

	// By hand: the server refuses Expect on version 5, and on version 6
	// sends the state when the expected head is not the resulting one.
	st := v.State()
	ev := event.Event{Collection: "album", Entity: st.ID, Parent: st.Head, Operations: rawLWW(t, 3, "year", 1999)}
	expect := []transport.Known{{Entity: st.ID, Head: st.Head}} // not the head after ev
	resp := rawRequest(t, server, 5, transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}, Expect: expect}}, nil)
	if resp.Code != transport.CodeProtocol || !strings.Contains(resp.Error, "version 5") {
		t.Fatalf("expected heads on version 5: %+v, want a protocol error", resp)
	}
	resp = rawRequest(t, server, 6, transport.Request{Commit: &transport.CommitReq{Events: []event.Event{ev}, Expect: expect}}, nil)
	if resp.Error != "" || len(resp.States) != 1 || len(resp.Unchanged) != 0 {
		t.Fatalf("a wrong expected head on version 6: %+v, want the state", resp)
	}
}

// hiddenAgent is permissive except that no one reads an entity whose
// "hidden" is true.
type hiddenAgent struct{ policy.Permissive }

func (hiddenAgent) CheckRead(_ context.Context, _ policy.ContextData, st *entity.State) error {
	if h, _ := st.Values.Get("hidden").AsBool(); h {
		return policy.ErrAccessDenied
	}
	return nil
}

// A bulk commit's answer carries the current state of each entity it
// changed that the committer may read, and no other: read in one step per
// collection on an engine that can (kv, a storage.ManyReader), one at a
// time on one that cannot (memory).
func TestCommitAnswer_ABulkCommitAnswersWithTheReadableStates(t *testing.T) {
	engines := map[string]func() storage.Engine{
		"memory": func() storage.Engine { return memory.New() },
		"kv": func() storage.Engine {
			e, err := kv.New(context.Background(), kv.NewMemoryStore(), kv.WithBatchSize(7))
			must(t, err)
			return e
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			server := newNodeOn(t, open(), hiddenAgent{})
			client := newNodeOn(t, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
			tp := linkTapped(t, server, client, 5) // version 5: the answer carries the states
			c := client.Context(nil)
			trx := c.Begin()
			var muts []*core.Mut
			for i := range 40 {
				coll := "album"
				if i%4 == 3 {
					coll = "artist" // two collections in one commit
				}
				m, err := trx.Create(ctx, coll)
				must(t, err)
				must(t, m.Set("n", i))
				if i%3 == 0 {
					must(t, m.Set("hidden", true))
				}
				muts = append(muts, m)
			}
			must(t, trx.Commit(ctx))
			seen := map[id.EntityID]bool{}
			for i, m := range muts {
				eid := m.ID() // known once committed
				if seen[eid] {
					t.Fatalf("entity %d has the id of another: %s", i, eid)
				}
				seen[eid] = true
				_, states, _ := tp.last(t, eid)
				want := 1
				if i%3 == 0 {
					want = 0
				}
				if states != want {
					t.Errorf("entity %d (hidden %v): the answer carries %d states of it, want %d", i, i%3 == 0, states, want)
				}
			}
		})
	}
}
