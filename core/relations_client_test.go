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
