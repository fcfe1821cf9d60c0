package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// within fails the test if f does not return in time (a deadlock).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: deadlocked", what)
	}
}

// Regression: a LiveQuery.Signal() subscriber that called lq.Items()
// deadlocked (the signal was set under the live query's lock).
func TestLiveQuery_SignalSubscriberMayCallTheNode(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	lq, err := c.Query(ctx, "todo", "true")
	must(t, err)
	defer lq.Close()
	got := make(chan int, 10)
	errs := make(chan error, 10)
	unsub := lq.Signal().Subscribe(func(items []*core.View) {
		_, err := c.Fetch(ctx, "todo", "true")
		errs <- err
		got <- len(lq.Items())
	})
	defer unsub()
	within(t, "commit with a signal subscriber reading the live query", func() {
		createTodo(t, c, "alice", "x")
		<-got
	})
	must(t, <-errs)
}

// Regression: an EntityWatch subscriber that committed deadlocked (it ran
// under the commit lock).
func TestWatch_SubscriberMayCommit(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	eid := createTodo(t, c, "alice", "x")
	w, err := c.Watch(ctx, "todo", eid)
	must(t, err)
	defer w.Close()
	seen := make(chan string, 10)
	w.Subscribe(func(v *core.View) {
		title, _ := v.Get("title").AsString()
		seen <- title
		if title == "first" {
			if err := editTodo(c, eid, "title", "second"); err != nil {
				t.Error(err)
			}
		}
	})
	within(t, "a watch subscriber committing", func() {
		must(t, editTodo(c, eid, "title", "first"))
		for title := range seen {
			if title == "second" {
				return
			}
		}
	})
	if got, _ := w.Get().Get("title").AsString(); got != "second" {
		t.Fatalf("watch holds %q", got)
	}
}

// A ChangeSet subscriber may commit, fetch, re-point and close its query.
func TestLiveQuery_SubscriberMayCallAnyNodeAPI(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	lq, err := c.Query(ctx, "todo", "true")
	must(t, err)
	done := make(chan struct{})
	var once sync.Once
	lq.Subscribe(func(cs core.ChangeSet) {
		if len(cs.Changes) == 0 || cs.Changes[0].Kind == core.Initial {
			return
		}
		once.Do(func() {
			createTodo(t, c, "bob", "from a callback")
			if _, err := c.Fetch(ctx, "todo", "true"); err != nil {
				t.Error(err)
			}
			if err := lq.UpdateSelection(ctx, "owner = ?", "bob"); err != nil {
				t.Error(err)
			}
			lq.Close()
			close(done)
		})
	})
	within(t, "a subscriber calling the node", func() {
		createTodo(t, c, "alice", "x")
		<-done
	})
}

// Regression: Mut.Set on one goroutine while another committed the same
// transaction was a data race (run with -race).
func TestTransaction_ConcurrentSetAndCommitAreSafe(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	for round := 0; round < 20; round++ {
		trx := c.Begin()
		m, err := trx.Create(ctx, "todo")
		must(t, err)
		must(t, m.Set("owner", "alice"))
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := m.Set(fmt.Sprintf("p%d", i), i); err != nil && !errors.Is(err, core.ErrTransactionDone) {
					t.Error(err)
				}
				_ = m.Values()
			}
		}()
		go func() {
			defer wg.Done()
			if err := trx.Commit(ctx); err != nil {
				t.Error(err)
			}
			_ = m.ID()
		}()
		wg.Wait()
	}
}

// Regression: after Close, Commit and Fetch still worked and accepted peers
// kept running.
func TestNode_CloseEndsEverything(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	server, err := core.NewNode(context.Background(), memory.New(), &ownerAgent{})
	must(t, err)
	client, err := core.NewNode(context.Background(), memory.New(), &ownerAgent{}, core.WithRole(core.Ephemeral))
	must(t, err)
	p := linkAs(t, server, client, "alice")
	sc := server.Context("alice")
	eid := createTodo(t, sc, "alice", "x")
	lq, err := client.Context(nil).Query(ctx, "todo", "true")
	must(t, err)
	w, err := sc.Watch(ctx, "todo", eid)
	must(t, err)
	_ = w
	trx := sc.Begin()

	within(t, "Close", func() { must(t, server.Close()) })
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the client's connection did not end when the server closed")
	}
	if err := p.Err(); err == nil || !errors.Is(err, core.ErrClosed) {
		t.Errorf("the client was not told why: %v", err)
	}
	for what, err := range map[string]error{
		"commit":  trx.Commit(ctx),
		"create":  func() error { _, err := sc.Begin().Create(ctx, "todo"); return err }(),
		"get":     func() error { _, err := sc.Get(ctx, "todo", eid); return err }(),
		"fetch":   func() error { _, err := sc.Fetch(ctx, "todo", "true"); return err }(),
		"query":   func() error { _, err := sc.Query(ctx, "todo", "true"); return err }(),
		"watch":   func() error { _, err := sc.Watch(ctx, "todo", eid); return err }(),
		"connect": func() error { return connectTo(server, client) }(),
	} {
		if !errors.Is(err, core.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	lq.Close()
	must(t, client.Close())
	must(t, server.Close()) // twice is fine
	waitFor(t, "the nodes' goroutines to end", func() bool { return runtime.NumGoroutine() <= before+2 })
}

func connectTo(server, client *core.Node) error {
	a, b := pipe()
	go server.Accept(context.Background(), a)
	_, err := client.Connect(context.Background(), b, []byte("alice"))
	return err
}

// countingEngine counts Apply calls.
type countingEngine struct {
	*memory.Engine
	mu      sync.Mutex
	batches []*storage.Batch
}

func (e *countingEngine) Apply(ctx context.Context, b *storage.Batch) error {
	e.mu.Lock()
	e.batches = append(e.batches, b)
	e.mu.Unlock()
	return e.Engine.Apply(ctx, b)
}

// Regression: an offline commit and its outbox record were two storage
// batches; a crash between them lost the edit or left an orphan record.
func TestOutbox_CommitAndRecordAreOneBatch(t *testing.T) {
	ctx := context.Background()
	eng := &countingEngine{Engine: memory.New()}
	client := newNodeOn(t, eng, &ownerAgent{}, core.WithRole(core.Ephemeral))
	eng.mu.Lock()
	eng.batches = nil
	eng.mu.Unlock()
	trx := client.Context("alice").Begin()
	m, err := trx.Create(ctx, "todo")
	must(t, err)
	must(t, m.Set("owner", "alice"))
	must(t, trx.Commit(ctx)) // offline
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.batches) != 1 {
		t.Fatalf("an offline commit wrote %d batches, want 1", len(eng.batches))
	}
	var colls []string
	for _, s := range eng.batches[0].States {
		colls = append(colls, s.State.Collection)
	}
	if len(colls) != 2 || (colls[0] != core.OutboxCollection && colls[1] != core.OutboxCollection) {
		t.Fatalf("the batch holds states of %v, want the todo and its outbox record", colls)
	}
}

func pipe() (transport.Connection, transport.Connection) { return transport.Pipe() }

// A LIMITed live query settles most commits in place; after every commit of
// a random sequence its items equal a fresh fetch of the same query.
func TestLiveQuery_LimitedEqualsAFreshFetch(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(0); seed < 6; seed++ {
		limitedAgainstFetch(t, ctx, seed)
	}
}

func limitedAgainstFetch(t *testing.T, ctx context.Context, seed uint64) {
	n := newNode(t)
	c := n.Context(nil)
	rng := rand.New(rand.NewPCG(seed, 4))
	var ids []id.EntityID
	for _, q := range []string{"n >= 10 ORDER BY n DESC LIMIT 5", "g = 1 ORDER BY n LIMIT 3", "true LIMIT 4", "n < 20 ORDER BY g, n DESC LIMIT 6", "true LIMIT 0"} {
		// Several live queries of the same selection share each commit's
		// work (one leads, the others adopt its result); one joins later.
		var lqs []*core.LiveQuery
		open := func() {
			lq, err := c.Query(ctx, "row", q)
			must(t, err)
			t.Cleanup(lq.Close)
			lqs = append(lqs, lq)
		}
		open()
		open()
		open()
		for step := 0; step < 150; step++ {
			if step == 75 {
				open()
			}
			trx := c.Begin()
			switch k := rng.IntN(10); {
			case k < 3 || len(ids) < 5:
				m, err := trx.Create(ctx, "row")
				must(t, err)
				must(t, m.Set("n", rng.IntN(30)))
				must(t, m.Set("g", rng.IntN(2)))
				must(t, trx.Commit(ctx))
				ids = append(ids, m.ID())
				continue
			case k < 9:
				for j := 0; j < 1+rng.IntN(3); j++ {
					m, err := trx.Edit(ctx, "row", ids[rng.IntN(len(ids))])
					if errors.Is(err, storage.ErrNotFound) {
						continue
					}
					must(t, err)
					must(t, m.Set("n", rng.IntN(30)))
					must(t, m.Set("g", rng.IntN(2)))
				}
			default:
				if err := trx.Delete(ctx, "row", ids[rng.IntN(len(ids))]); err != nil && !errors.Is(err, storage.ErrNotFound) {
					t.Fatal(err)
				}
			}
			must(t, trx.Commit(ctx))
			want, err := c.Fetch(ctx, "row", q)
			must(t, err)
			for k, lq := range lqs {
				got := lq.Items()
				if len(got) != len(want) {
					t.Fatalf("seed %d, %s, step %d, query %d: live %d rows, fetch %d", seed, q, step, k, len(got), len(want))
				}
				for i := range got {
					if got[i].ID() != want[i].ID() || !got[i].Head().Equal(want[i].Head()) {
						t.Fatalf("seed %d, %s, step %d, query %d, row %d: live %s, fetch %s", seed, q, step, k, i, got[i].ID(), want[i].ID())
					}
				}
			}
		}
	}
}

// Live queries that share a LIMITed selection each report every commit to
// their own subscribers.
func TestLiveQuery_SharedLimitedSelectionsEachReport(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	createAlbums(t, c, album{"a", "x", 2001}, album{"b", "x", 2002})
	var sets []*changeSets
	var lqs []*core.LiveQuery
	for range 3 {
		lq, err := c.Query(ctx, "album", "year > 2000 ORDER BY year DESC LIMIT 2")
		must(t, err)
		defer lq.Close()
		s := collect(lq)
		s.next(t) // Initial
		sets = append(sets, s)
		lqs = append(lqs, lq)
	}
	for i, year := range []int{2003, 2004, 1999} {
		createAlbums(t, c, album{fmt.Sprint(year), "x", year})
		for k, s := range sets {
			if year < 2000 {
				s.none(t, lqs[k])
				continue
			}
			cs := s.next(t)
			if len(cs.Changes) != 2 || cs.Changes[0].Kind != core.Add || cs.Changes[1].Kind != core.Remove {
				t.Fatalf("commit %d, query %d: %v", i, k, cs.Changes)
			}
			if got := names(cs.Items); got[0] != fmt.Sprint(year) {
				t.Fatalf("commit %d, query %d: items %v", i, k, got)
			}
		}
	}
}

// Regression (review): live queries sharing a LIMITed selection hand their
// subscribers slices of their own (subscribers of different live queries
// run on different goroutines).
func TestLiveQuery_SharedLimitedQueriesHandOutTheirOwnSlices(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	createAlbums(t, c, album{"a", "x", 10}, album{"b", "x", 20})
	const q = "true ORDER BY year LIMIT 2"
	A, err := c.Query(ctx, "album", q)
	must(t, err)
	defer A.Close()
	B, err := c.Query(ctx, "album", q)
	must(t, err)
	defer B.Close()
	sa, sb := collect(A), collect(B)
	sa.next(t)
	sb.next(t)
	createAlbums(t, c, album{"c", "x", 5}) // both apply; from here on they share
	sa.next(t)
	sb.next(t)
	createAlbums(t, c, album{"d", "x", 1})
	ca, cb := sa.next(t), sb.next(t)
	if len(ca.Items) > 0 && len(cb.Items) > 0 && &ca.Items[0] == &cb.Items[0] {
		t.Error("two live queries' subscribers were handed the same Items slice")
	}
	if len(ca.Changes) > 0 && len(cb.Changes) > 0 && &ca.Changes[0] == &cb.Changes[0] {
		t.Error("two live queries' subscribers were handed the same Changes slice")
	}
}
