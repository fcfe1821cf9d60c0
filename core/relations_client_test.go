package core_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
)

// A client's LIMITed live query over a traversal refills when a row leaves
// its window; the refill must not wait, on the goroutine that reads the
// durable peer's messages, for an answer only that goroutine can read.
func TestLiveQuery_ClientTraversalLimitRefillKeepsTheConnection(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"})
	lq, err := cl.Context(nil).Query(ctx, "album", "artist.name = 'Muse' ORDER BY title LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	m.edit("album", "a1", map[string]any{"artist": "@blur"})
	// Any later request on the connection needs the reader goroutine.
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	vs, err := cl.Context(nil).Fetch(fctx, "album", "title = 'Parklife'")
	if err != nil {
		t.Fatalf("fetch after the refill: %v (the client's reader is stuck)", err)
	}
	if got := m.names(vs); !slices.Equal(got, []string{"a2"}) {
		t.Fatalf("fetch = %v", got)
	}
	// The window is refilled: the server's subscription sends a3 in.
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Equal(m.names(lq.Items()), []string{"a3"}) {
		if time.Now().After(deadline) {
			t.Fatalf("client live query = %v, want a3", m.names(lq.Items()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The same refill, caused by the client's own commit, runs on the
// committing goroutine: it must not wait for an answer whose states the
// reader can only store once the commit is done.
func TestLiveQuery_ClientCommitRefillingATraversalLimitReturns(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"})
	c := cl.Context(nil)
	lq, err := c.Query(ctx, "album", "artist.name = 'Muse' ORDER BY title LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	done := make(chan error, 1)
	go func() {
		trx := c.Begin()
		mut, err := trx.Edit(ctx, "album", m.ids["a1"])
		if err != nil {
			done <- err
			return
		}
		if err := mut.Set("title", "Zzz"); err != nil {
			done <- err
			return
		}
		done <- trx.Commit(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the client's commit did not return (its live query's refill waits for the durable peer)")
	}
}

// A reader that fell behind the log reads once more with publication
// paused. On a client that read must not ask the durable peer for a
// traversal's hops: the answer is stored by publishing it, which waits for
// the paused log, and the first live query, aggregate or fetch of a
// traversal hung for good. Every read here takes the paused path.
func TestLiveQuery_ClientPausedReadOfATraversalReturns(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"})
	defer core.SetReadTriesForTest(0)()
	done := make(chan error, 1)
	var lq *core.LiveQuery
	go func() {
		var err error
		lq, err = cl.Context(nil).Query(ctx, "album", "artist.name = 'Muse' ORDER BY title")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second): // a guard against hanging, not a timing assertion
		t.Fatal("the client's first traversal query did not return (its paused read waits for the durable peer)")
	}
	defer lq.Close()
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Equal(m.names(lq.Items()), []string{"a1", "a3"}) {
		if time.Now().After(deadline) {
			t.Fatalf("client live query = %v, want a1 a3", m.names(lq.Items()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The connection still answers.
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	vs, err := cl.Context(nil).Fetch(fctx, "album", "artist.name = 'Blur'")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(vs); !slices.Equal(got, []string{"a2"}) {
		t.Fatalf("fetch = %v, want a2", got)
	}
}

// waitNames waits until a live query's rows are want (by seed name).
func (m *music) waitNames(lq *core.LiveQuery, want ...string) {
	m.t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a guard against hanging, not a timing assertion
	for !slices.Equal(m.names(lq.Items()), want) {
		if time.Now().After(deadline) {
			m.t.Fatalf("client live query = %v, want %v", m.names(lq.Items()), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An ephemeral client matches a traversal on its own copies of the
// entities the path passes through; the server sends them with the rows,
// so a row whose referenced entity the client never read, or read before
// it changed, still moves in and out.
func TestLiveQuery_ClientTraversalFollowsEntitiesItNeverRead(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	cl := m.client(
		core.Relation{Collection: "album", Property: "artist", Target: "artist"},
		core.Relation{Collection: "artist", Property: "label", Target: "label"})
	c := cl.Context(nil)
	byName, err := c.Query(ctx, "album", "artist.name = 'New' ORDER BY title")
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Close()
	byCountry, err := c.Query(ctx, "album", "artist.label.country = 'US' ORDER BY title")
	if err != nil {
		t.Fatal(err)
	}
	defer byCountry.Close()
	m.waitNames(byCountry, "a2")

	// An artist created after the query, then an album referring to it.
	m.create("artist", "new", map[string]any{"name": "New"})
	m.create("album", "a4", map[string]any{"title": "Fresh", "artist": "@new"})
	m.waitNames(byName, "a4")

	// An artist the client holds no copy of takes the name: its albums move in.
	m.edit("artist", "muse", map[string]any{"name": "New"})
	m.waitNames(byName, "a1", "a3", "a4")
	// And give it up: they move out (the client's copy would keep them).
	m.edit("artist", "muse", map[string]any{"name": "Muse"})
	m.waitNames(byName, "a4")

	// Two hops: a label's country moves Muse's albums in, Blur's out.
	m.edit("label", "warp", map[string]any{"country": "US"})
	m.waitNames(byCountry, "a1", "a2", "a3")
	m.edit("label", "subpop", map[string]any{"country": "CA"})
	m.waitNames(byCountry, "a1", "a3")
}

// A caller that holds ids as text (JavaScript, the command line) compares
// a declared reference property with that text: `artist = ?` with an id
// string matches on a durable node and on a client, in a fetch, a live
// query and a count.
func TestRelations_IDTextComparesWithAReferenceProperty(t *testing.T) {
	m := newMusic(t)
	m.seed()
	ctx := context.Background()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"})
	muse := m.ids["muse"].String()
	for name, c := range map[string]*core.Context{"server": m.c, "client": cl.Context(nil)} {
		vs, err := c.Fetch(ctx, "album", "artist = ? ORDER BY title", muse)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.names(vs); !slices.Equal(got, []string{"a1", "a3"}) {
			t.Errorf("%s: Fetch(artist = id text) = %v, want a1 a3", name, got)
		}
		vs, err = c.Fetch(ctx, "album", "artist NOT IN (?)", muse)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.names(vs); !slices.Equal(got, []string{"a2"}) {
			t.Errorf("%s: Fetch(artist NOT IN (id text)) = %v, want a2", name, got)
		}
		lq, err := c.Query(ctx, "album", "artist = ?", muse)
		if err != nil {
			t.Fatal(err)
		}
		m.waitNames(lq, "a1", "a3")
		lq.Close()
		agg, err := c.Count(ctx, "album", "artist = ?", muse)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for agg.Count() != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: Count(artist = id text) = %d, want 2", name, agg.Count())
			}
			time.Sleep(5 * time.Millisecond)
		}
		agg.Close()
	}
}
