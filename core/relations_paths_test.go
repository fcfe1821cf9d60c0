package core_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	"github.com/ankurah/ankurah-go/core/value"
)

// rawSub is a raw protocol connection to a server holding one
// subscription: its updates' items arrive on items.
type rawSub struct {
	t     *testing.T
	items chan []transport.UpdateItem
}

// rawPathSubscribe connects to server as user (version ProtocolVersion),
// subscribes to q on collection and returns the subscription once its
// answer arrived, with the answer's states.
func rawPathSubscribe(t *testing.T, server *core.Node, user, collection, q string, incs ...transport.Include) (*rawSub, []transport.UpdateItem) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, b := transport.Pipe()
	go server.Accept(context.Background(), a)
	t.Cleanup(func() { b.Close() })
	send := func(m *transport.Message) {
		f, err := transport.Encode(m)
		must(t, err)
		must(t, b.Send(ctx, f))
	}
	recv := func() (*transport.Message, error) {
		f, err := b.Recv(ctx)
		if err != nil {
			return nil, err
		}
		return transport.Decode(f)
	}
	send(&transport.Message{Hello: &transport.Hello{NodeID: "raw-" + user, Version: transport.ProtocolVersion, Credentials: []byte(user)}})
	if m, err := recv(); err != nil || m.Hello == nil {
		t.Fatalf("hello: %+v, %v", m, err)
	}
	send(&transport.Message{Request: &transport.Request{ID: 1, Subscribe: &transport.SubscribeReq{Sub: 1, Collection: collection, Query: q, Includes: incs}}})
	var initial []transport.UpdateItem
	for {
		m, err := recv()
		must(t, err)
		if m.Response == nil || m.Response.ID != 1 {
			continue
		}
		if m.Response.Error != "" {
			t.Fatal(m.Response.Error)
		}
		for _, st := range m.Response.States {
			initial = append(initial, transport.UpdateItem{State: st})
		}
		if !m.More {
			break
		}
	}
	rs := &rawSub{t: t, items: make(chan []transport.UpdateItem, 256)}
	go func() {
		for {
			m, err := recv()
			if err != nil {
				return
			}
			var items []transport.UpdateItem
			for _, u := range m.Updates {
				items = append(items, u.Items...)
			}
			if len(items) > 0 {
				rs.items <- items
			}
		}
	}()
	return rs, initial
}

// until returns the items that arrive up to and with the update (one
// commit's) that carries the row until.
func (rs *rawSub) until(until id.EntityID) []transport.UpdateItem {
	rs.t.Helper()
	var out []transport.UpdateItem
	for {
		select {
		case items := <-rs.items:
			out = append(out, items...)
			for _, it := range items {
				if it.State.ID == until && it.Tag != transport.TagIncluded {
					return out
				}
			}
		case <-time.After(10 * time.Second): // a guard against hanging, not a timing assertion
			rs.t.Fatalf("no update for %s; got %+v", until, out)
			return nil
		}
	}
}

// pathOwners is a server whose callers read only what they own, with
// album.artist -> artist declared.
func pathOwners(t *testing.T) *core.Node {
	t.Helper()
	server := newNodeOn(t, memory.New(), aggOwnerAgent{})
	must(t, server.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}))
	return server
}

func putAs(t *testing.T, server *core.Node, user, coll string, eid *id.EntityID, props map[string]any) id.EntityID {
	t.Helper()
	ctx := context.Background()
	trx := server.Context(user).Begin()
	var mut *core.Mut
	var err error
	if eid == nil {
		mut, err = trx.Create(ctx, coll)
	} else {
		mut, err = trx.Edit(ctx, coll, *eid)
	}
	must(t, err)
	for k, v := range props {
		must(t, mut.Set(k, v))
	}
	must(t, trx.Commit(ctx))
	return mut.ID()
}

// A path entity the subscriber may not read never reaches it, deleted or
// not: bob's artist, deleted, is not sent to alice with its name when her
// album that refers to it changes.
func TestSubscribe_DeletedPathEntityTheSubscriberMayNotReadIsNotSent(t *testing.T) {
	ctx := context.Background()
	server := pathOwners(t)
	artist := putAs(t, server, "bob", "artist", nil, map[string]any{"owner": "bob", "name": "bob's secret"})
	album := putAs(t, server, "alice", "album", nil, map[string]any{"owner": "alice", "title": "x", "artist": value.Ref(artist)})
	rs, initial := rawPathSubscribe(t, server, "alice", "album", "artist.name IS NULL")
	for _, it := range initial {
		if it.State.ID == artist {
			t.Fatalf("initial answer carries bob's artist: %+v", it.State.Values)
		}
	}
	trx := server.Context("bob").Begin()
	must(t, trx.Delete(ctx, "artist", artist))
	must(t, trx.Commit(ctx))
	putAs(t, server, "alice", "album", &album, map[string]any{"title": "y"})
	for _, it := range rs.until(album) {
		if it.State.ID == artist && it.State.Values.Len() > 0 && !it.Gone {
			t.Fatalf("alice received bob's deleted artist with its values %v", it.State.Values)
		}
	}
}

// Whether a referenced entity exists where the subscriber may not read it
// is not told: an album referring to bob's artist and one referring to no
// entity at all send the same kind of path item.
func TestSubscribe_PathItemsDoNotTellAnUnreadableEntityFromNone(t *testing.T) {
	server := pathOwners(t)
	artist := putAs(t, server, "bob", "artist", nil, map[string]any{"owner": "bob", "name": "bob's secret"})
	missing := id.EntityID{0xde, 0xad}
	a1 := putAs(t, server, "alice", "album", nil, map[string]any{"owner": "alice", "title": "x", "artist": value.Ref(artist)})
	a2 := putAs(t, server, "alice", "album", nil, map[string]any{"owner": "alice", "title": "x", "artist": value.Ref(missing)})
	rs, _ := rawPathSubscribe(t, server, "alice", "album", "artist.name IS NULL")
	kinds := func(row, ref id.EntityID) string {
		putAs(t, server, "alice", "album", &row, map[string]any{"title": "y" + row.String()})
		k := "nothing"
		for _, it := range rs.until(row) {
			if it.State.ID == ref {
				k = "item"
				if it.Gone {
					k = "gone"
				}
			}
		}
		return k
	}
	if k1, k2 := kinds(a1, artist), kinds(a2, missing); k1 != k2 {
		t.Fatalf("a reference to bob's artist sends %s, a reference to nothing %s: alice learns the artist exists", k1, k2)
	}
}

// A client that holds albums and their artist from before the artist was
// renamed, and then queries the old name, ends with the server's answer,
// also after one of those albums changes (heard through another query):
// the stale copy of the artist never lets them in.
func TestLiveQuery_ClientStaleArtistCopyDoesNotKeepARow(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	eng := memory.New()
	cl := newNodeOn(t, eng, policy.Permissive{}, core.WithRole(core.Ephemeral))
	must(t, cl.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}))
	link(t, m.n, cl)
	c := cl.Context(nil)
	cachedName := func() string {
		coll, err := eng.Collection(ctx, "artist")
		must(t, err)
		st, err := coll.GetState(ctx, m.ids["muse"])
		if err != nil {
			return err.Error()
		}
		s, _ := st.Values.Get("name").AsString()
		return s
	}
	// Cached, and then no subscription keeps them current.
	_, err := c.Fetch(ctx, "artist", "true")
	must(t, err)
	_, err = c.Fetch(ctx, "album", "true")
	must(t, err)
	m.edit("artist", "muse", map[string]any{"name": "Renamed"})
	if got := cachedName(); got != "Muse" {
		t.Fatalf("the client's copy of muse is %q, want the stale \"Muse\"", got)
	}
	lq, err := c.Query(ctx, "album", "artist.name = 'Muse' ORDER BY title")
	must(t, err)
	defer lq.Close()
	byTitle, err := c.Query(ctx, "album", "title = 'Absolution'")
	must(t, err)
	defer byTitle.Close()
	m.waitNames(byTitle, "a1")
	// a1 changes: the client hears it through byTitle.
	m.edit("album", "a1", map[string]any{"year": 2003})
	// A later commit the subscription hears: by then a1's change is stored.
	m.create("album", "marker", map[string]any{"title": "m", "artist": "@blur"})
	m.edit("artist", "blur", map[string]any{"name": "Muse"})
	m.waitNames(lq, "a2", "marker")
	if got := m.names(lq.Items()); len(got) != 2 {
		t.Fatalf("client rows %v, want a2 marker", got)
	}
}

// A client's copy of a path entity that changed while no row moved is
// stale; when another path entity's change then moves a row on the
// server, the client evaluates its other cached rows with the stale copy:
// they must not enter the client's result where the server's has none.
func TestLiveQuery_ClientStaleSecondPathDoesNotAddARow(t *testing.T) {
	m := newMusic(t)
	ctx := context.Background()
	rels := []core.Relation{
		{Collection: "album", Property: "artist", Target: "artist"},
		{Collection: "album", Property: "producer", Target: "producer"},
	}
	must(t, m.n.DeclareRelations(rels[1]))
	m.create("artist", "r", map[string]any{"name": "W"})
	m.create("producer", "p1", map[string]any{"name": "Y"})
	m.create("producer", "p2", map[string]any{"name": "Y"})
	m.create("album", "a1", map[string]any{"title": "one", "artist": "@r", "producer": "@p1"})
	m.create("album", "a2", map[string]any{"title": "two", "artist": "@r", "producer": "@p2"})
	cl := m.client(rels...)
	c := cl.Context(nil)
	for _, coll := range []string{"artist", "producer", "album"} {
		_, err := c.Fetch(ctx, coll, "true")
		must(t, err)
	}
	lq, err := c.Query(ctx, "album", "artist.name = 'X' AND producer.name = 'Y'")
	must(t, err)
	defer lq.Close()
	m.edit("producer", "p2", map[string]any{"name": "Z"}) // moves no row
	m.edit("artist", "r", map[string]any{"name": "X"})    // moves a1 in
	// A later commit the subscription hears: by then r's is stored.
	m.create("album", "marker", map[string]any{"title": "m", "artist": "@r", "producer": "@p1"})
	m.waitNames(lq, "a1", "marker")
	server, err := m.c.Fetch(ctx, "album", "artist.name = 'X' AND producer.name = 'Y'")
	must(t, err)
	if got, want := m.names(lq.Items()), m.names(server); !slices.Equal(got, want) {
		t.Fatalf("client rows %v, server rows %v", got, want)
	}
}

// An included entity deleted in a commit that also made it unreadable to
// the subscriber is sent as gone, not as its deleted state, which holds the
// values that commit gave it.
func TestSubscribe_IncludedEntityDeletedAsItBecameUnreadableIsGone(t *testing.T) {
	ctx := context.Background()
	server := pathOwners(t)
	artist := putAs(t, server, "alice", "artist", nil, map[string]any{"owner": "alice", "name": "mine"})
	album := putAs(t, server, "alice", "album", nil, map[string]any{"owner": "alice", "title": "x", "artist": value.Ref(artist)})
	rs, _ := rawPathSubscribe(t, server, "alice", "album", "true", transport.Include{Name: "artist", Collection: "artist", Property: "artist"})
	trx := server.Context("alice").Begin()
	mut, err := trx.Edit(ctx, "artist", artist)
	must(t, err)
	must(t, mut.Set("owner", "bob"))
	must(t, mut.Set("name", "bob's secret"))
	must(t, trx.Delete(ctx, "artist", artist))
	must(t, trx.Commit(ctx))
	putAs(t, server, "alice", "album", &album, map[string]any{"title": "y"})
	for _, it := range rs.until(album) {
		if it.State.ID == artist && !it.Gone && it.State.Values.Get("name").Raw() == "bob's secret" {
			t.Fatalf("alice received the artist's deleted state with bob's values %v", it.State.Values)
		}
	}
}
