package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// Against a version-8 server an ephemeral Edit reads the entity from the
// server first (from version 9 it edits its own copy: currentedit_test.go).
// On version 8 the read names the head the client holds, and the server, finding the
// entity still at it (the client's own last commit), lists it unchanged
// instead of sending the state; the edit starts from the client's copy,
// which is the server's.
func TestConditionalGet_AnEditOfAnUnchangedEntityIsAnsweredUnchanged(t *testing.T) {
	ctx := context.Background()
	server, ce := newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp := linkTapped(t, server, client, 8)
	c := client.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 2000})
	for i := range 3 {
		editSet(t, c, ids[0], "year", 2001+i)
		req, states, unchanged := tp.lastGet(t, ids[0])
		if len(req.Known) != 1 || req.Known[0].Entity != ids[0] || states != 0 || !unchanged {
			t.Fatalf("edit %d: %d known heads, %d states, unchanged %v; want 1, 0, true", i, len(req.Known), states, unchanged)
		}
		v, err := server.Context(nil).Get(ctx, "album", ids[0])
		must(t, err)
		sameState(t, "after an edit", cachedState(t, ce, "album", ids[0]), v.State())
		if y, _ := v.Get("year").AsInt(); y != int64(2001+i) {
			t.Fatalf("edit %d: the server holds year %d", i, y)
		}
	}
}

// When another writer changed the entity since the client's copy, the
// conditional read (version 8) sends the new state, and the edit starts
// from it: the client's write does not undo the other one, and the client
// reads the other writer's value inside its edit.
func TestConditionalGet_AnEditAfterAnotherWriterGetsTheNewState(t *testing.T) {
	ctx := context.Background()
	server, ce := newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp := linkTapped(t, server, client, 8)
	c := client.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 2000})
	editSet(t, server.Context(nil), ids[0], "name", "written on the server")
	trx := c.Begin()
	m, err := trx.Edit(ctx, "album", ids[0])
	must(t, err)
	req, states, unchanged := tp.lastGet(t, ids[0])
	if len(req.Known) != 1 || states != 1 || unchanged {
		t.Fatalf("%d known heads, %d states, unchanged %v; want 1, 1, false", len(req.Known), states, unchanged)
	}
	if name, _ := m.Get("name").AsString(); name != "written on the server" {
		t.Fatalf("the edit starts from name %q", name)
	}
	must(t, m.Set("year", 2024))
	must(t, trx.Commit(ctx))
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if name, _ := v.Get("name").AsString(); name != "written on the server" {
		t.Fatalf("the server holds name %q after the client's edit", name)
	}
	if y, _ := v.Get("year").AsInt(); y != 2024 {
		t.Fatalf("the server holds year %d", y)
	}
	sameState(t, "after the edit", cachedState(t, ce, "album", ids[0]), v.State())
}

// A get of an entity the client may no longer read is answered without it,
// known head or not, and the client drops its copy.
func TestConditionalGet_AnUnreadableEntityIsNotConfirmed(t *testing.T) {
	ctx := context.Background()
	server, ce := newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp := linkTapped(t, server, client, 0)
	c := client.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 2000})
	trx := server.Context(nil).Begin()
	must(t, trx.Delete(ctx, "album", ids[0]))
	must(t, trx.Commit(ctx))
	// Deleted entities are still sent (the client learns of the delete).
	_, err := c.Get(ctx, "album", ids[0])
	if err == nil {
		t.Fatal("Get of a deleted entity succeeded")
	}
	_, states, unchanged := tp.lastGet(t, ids[0])
	if states != 1 || unchanged {
		t.Fatalf("a deleted entity: %d states, unchanged %v; want 1, false", states, unchanged)
	}
	if st := cachedState(t, ce, "album", ids[0]); !st.Deleted() {
		t.Fatal("the client's copy is not deleted")
	}
}

// Between a version-8 node and a peer speaking version 7, a get names no
// heads and its answer carries the states, as before; the server refuses
// known heads on version 7 and more heads than ids on version 8, and
// sends the state for a head that is not the current one.
func TestConditionalGet_OlderVersionSendsTheStates(t *testing.T) {
	ctx := context.Background()
	server, ce := newNode(t), memory.New()
	client := newNodeOn(t, ce, policy.Permissive{}, core.WithRole(core.Ephemeral))
	tp := linkTapped(t, server, client, 7)
	c := client.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 2000})
	editSet(t, c, ids[0], "year", 2001)
	req, states, unchanged := tp.lastGet(t, ids[0])
	if len(req.Known) != 0 || states != 1 || unchanged {
		t.Fatalf("version 7: %d known heads, %d states, unchanged %v; want 0, 1, false", len(req.Known), states, unchanged)
	}
	v, err := server.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	sameState(t, "version 7", cachedState(t, ce, "album", ids[0]), v.State())

	st := v.State()
	current := []transport.Known{{Entity: st.ID, Head: st.Head}}
	resp := rawRequest(t, server, 7, transport.Request{Get: &transport.GetReq{Collection: "album", IDs: []id.EntityID{st.ID}, Known: current}}, nil)
	if resp.Code != transport.CodeProtocol || !strings.Contains(resp.Error, "version 7") {
		t.Fatalf("known heads on version 7: %+v, want a protocol error", resp)
	}
	two := append(current, transport.Known{Entity: id.EntityID{9}, Head: st.Head})
	resp = rawRequest(t, server, 8, transport.Request{Get: &transport.GetReq{Collection: "album", IDs: []id.EntityID{st.ID}, Known: two}}, nil)
	if resp.Code != transport.CodeLimit {
		t.Fatalf("two known heads for one id: %+v, want a limit error", resp)
	}
	resp = rawRequest(t, server, 8, transport.Request{Get: &transport.GetReq{Collection: "album", IDs: []id.EntityID{st.ID}, Known: current}}, nil)
	if resp.Error != "" || len(resp.States) != 0 || len(resp.Unchanged) != 1 || resp.Unchanged[0] != st.ID {
		t.Fatalf("the current head on version 8: %+v, want it unchanged", resp)
	}
	stale := []transport.Known{{Entity: st.ID, Head: st.Head[:0]}}
	resp = rawRequest(t, server, 8, transport.Request{Get: &transport.GetReq{Collection: "album", IDs: []id.EntityID{st.ID}, Known: stale}}, nil)
	if resp.Error != "" || len(resp.States) != 1 || len(resp.Unchanged) != 0 {
		t.Fatalf("an old head on version 8: %+v, want the state", resp)
	}
}
