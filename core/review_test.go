package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// storedGate holds a write after it is stored and before it is published
// (the writer holds the commit lock, the log does not have the batch yet).
type storedGate struct {
	storage.Engine
	armed   atomic.Bool
	stored  chan struct{}
	release chan struct{}
}

func newStoredGate() *storedGate {
	return &storedGate{Engine: memory.New(), stored: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *storedGate) Apply(ctx context.Context, b *storage.Batch) error {
	err := g.Engine.Apply(ctx, b)
	if err == nil && g.armed.CompareAndSwap(true, false) {
		g.stored <- struct{}{}
		<-g.release
	}
	return err
}

func (g *storedGate) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	return g.Engine.(storage.CollectionLooker).LookupCollection(ctx, name)
}

func viewName(v *core.View) string { s, _ := v.Get("name").AsString(); return s }

// waitChangeNamed waits for a ChangeSet that carries an entity named name.
func waitChangeNamed(s *changeSets, name string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case cs := <-s.ch:
			for _, ch := range cs.Changes {
				if viewName(ch.Entity) == name {
					return true
				}
			}
		case <-deadline:
			return false
		}
	}
}

// Regression (review): UpdateSelection reads storage off the commit lock,
// so a write stored but not yet published is in what it reads; the
// re-pointed result must report that entity's new state (the log will not:
// the live query already holds that head).
func TestReview_UpdateSelectionRacingAStoredWriteReportsIt(t *testing.T) {
	ctx := context.Background()
	e := newStoredGate()
	n := newNodeOn(t, e, policy.Permissive{})
	c := n.Context(nil)
	ids := createAlbums(t, c, album{"Showbiz", "Muse", 1999}, album{"Absolution", "Muse", 2003})
	lq, err := c.Query(ctx, "album", "year > 2000")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t) // Initial

	e.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", ids[1])
		if err == nil {
			err = m.Set("name", "Absolution XX")
		}
		if err == nil {
			err = trx.Commit(ctx)
		}
		done <- err
	}()
	<-e.stored
	// Same members before and after: no Add, no Remove.
	must(t, lq.UpdateSelection(ctx, "year > 2002"))
	close(e.release)
	must(t, <-done)

	if !waitChangeNamed(s, "Absolution XX", 2*time.Second) {
		t.Errorf("no ChangeSet ever reports the rename; Items() = %v, Signal() = %v",
			names(lq.Items()), names(lq.Signal().Get()))
	}
}

// Regression (review): the same race on the durable side of a
// subscription: a credential refresh (Peer.reauthorize) racing a commit
// must not absorb the commit's state silently; the client receives it.
func TestReview_CredentialRefreshRacingAStoredWriteReachesTheClient(t *testing.T) {
	ctx := context.Background()
	e := newStoredGate()
	server := newNodeOn(t, e, &ownerAgent{})
	client := newClient(t)
	p := linkAs(t, server, client, "admin")
	eid := createTodo(t, server.Context(nil), "alice", "t1")
	lq, err := client.Context(nil).Query(ctx, "todo", "true")
	must(t, err)
	defer lq.Close()
	waitFor(t, "the client holds the todo", func() bool { return len(lq.Items()) == 1 })

	e.armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- editTodo(server.Context(nil), eid, "title", "t1 renamed") }()
	<-e.stored
	p.RefreshCredentials([]byte("admin")) // same identity: nothing should change but the rename
	// The refresh is handled before the next request on the connection.
	_, err = client.Context(nil).Fetch(ctx, "other", "true")
	must(t, err)
	close(e.release)
	must(t, <-done)

	title := func() string {
		items := lq.Items()
		if len(items) != 1 {
			return fmt.Sprint(len(items), " items")
		}
		s, _ := items[0].Get("title").AsString()
		return s
	}
	deadline := time.Now().Add(2 * time.Second)
	for title() != "t1 renamed" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := title(); got != "t1 renamed" {
		st, _ := server.Context(nil).Get(ctx, "todo", eid)
		srv, _ := st.Get("title").AsString()
		t.Errorf("client live query holds %q; the server has %q", got, srv)
	}
}

// hookAgent is permissive and calls hook (once) from the first CheckRead
// made for the context data "hook" after it is armed.
type hookAgent struct {
	policy.Permissive
	hook atomic.Pointer[func()]
}

func (a *hookAgent) CheckRead(ctx context.Context, cd policy.ContextData, st *entity.State) error {
	if cd == "hook" {
		if f := a.hook.Swap(nil); f != nil {
			(*f)()
		}
	}
	return nil
}

// Regression (review): two LIMITed live queries of one Context and
// selection share their result (adopt). A leader closed while a commit is
// handed out (after the reactor picked it, before it applies) must not make
// the follower, holding the very same slice, adopt "nothing".
//
// The hook closes A from inside the policy check of an unrelated live query
// C, which the reactor reaches first (equality-indexed queries come before
// scanned ones for one change); that is the window a concurrent Close on
// another goroutine falls into. Which of A and B leads is map order, so the
// scenario runs several times.
func TestReview_ClosingTheLeaderOfASharedLimitedQueryKeepsTheOtherCurrent(t *testing.T) {
	ctx := context.Background()
	a := &hookAgent{}
	n := newNodeOn(t, memory.New(), a)
	shared := n.Context("shared")
	hooked := n.Context("hook")
	createAlbums(t, shared, album{"a", "x", 10}, album{"b", "x", 20}, album{"c", "x", 30}, album{"d", "x", 40})
	for round := range 12 {
		q := fmt.Sprintf("true ORDER BY year LIMIT %d", 2+round) // a fresh share key per round
		A, err := shared.Query(ctx, "album", q)
		must(t, err)
		B, err := shared.Query(ctx, "album", q)
		must(t, err)
		C, err := hooked.Query(ctx, "album", "artist = ?", fmt.Sprint("hook", round))
		must(t, err)
		// One commit both apply: from then on they share one result.
		createAlbums(t, shared, album{fmt.Sprint("warm", round), "x", -1000 + round})
		f := func() { A.Close() }
		a.hook.Store(&f)
		createAlbums(t, shared, album{fmt.Sprint("new", round), fmt.Sprint("hook", round), -2000 + round})
		fresh, err := shared.Fetch(ctx, "album", q)
		must(t, err)
		if got := B.Items(); !sameViews(fresh, got) {
			t.Fatalf("round %d: the surviving live query holds %v, a fresh fetch %v", round, names(got), names(fresh))
		}
		B.Close()
		C.Close()
	}
}

// replay rebuilds a live query's result from the ChangeSets its subscriber
// receives, and records the first inconsistency: an Add or Initial of an
// entity it holds, an Update or Remove of one it does not, or a ChangeSet
// whose Items differ from the result its changes lead to.
type replay struct {
	mu  sync.Mutex
	cur map[id.EntityID]string
	err error
}

func track(lq *core.LiveQuery) *replay {
	r := &replay{cur: map[id.EntityID]string{}}
	lq.Subscribe(func(cs core.ChangeSet) {
		r.mu.Lock()
		defer r.mu.Unlock()
		fail := func(f string, a ...any) {
			if r.err == nil {
				r.err = fmt.Errorf(f, a...)
			}
		}
		for _, ch := range cs.Changes {
			k, h := ch.Entity.ID(), fmt.Sprint(ch.Entity.Head())
			_, held := r.cur[k]
			switch ch.Kind {
			case core.Initial, core.Add:
				if held {
					fail("%s of %s, already held", ch.Kind, k)
				}
				r.cur[k] = h
			case core.Update:
				if !held {
					fail("Update of %s, not held", k)
				}
				r.cur[k] = h
			case core.Remove:
				if !held {
					fail("Remove of %s, not held", k)
				}
				delete(r.cur, k)
			}
		}
		if len(cs.Items) != len(r.cur) {
			fail("ChangeSet Items has %d rows, its changes lead to %d", len(cs.Items), len(r.cur))
		}
		for _, v := range cs.Items {
			if r.cur[v.ID()] != fmt.Sprint(v.Head()) {
				fail("ChangeSet Items hold %s@%v, its changes lead to %q", v.ID(), v.Head(), r.cur[v.ID()])
			}
		}
	})
	return r
}

// matches reports whether the replayed result equals vs (ids and heads).
func (r *replay) matches(vs []*core.View) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(vs) != len(r.cur) {
		return false
	}
	for _, v := range vs {
		if r.cur[v.ID()] != fmt.Sprint(v.Head()) {
			return false
		}
	}
	return true
}

func (r *replay) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Concurrent commits (edits, creations, deletes), live queries opened and
// re-pointed meanwhile (LIMITed ones sharing one selection). Afterwards
// every live query equals a fresh fetch, and the ChangeSets its subscriber
// received replay to exactly that result: nothing reported twice, nothing
// missed.
func TestReview_ChangeSetsReplayToTheResultUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	ids := createAlbums(t, c, album{"a", "x", 1}, album{"b", "x", 2}, album{"c", "x", 3}, album{"d", "x", 4}, album{"e", "x", 5})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range 80 {
				trx := c.Begin()
				var err error
				switch k := rng.IntN(10); {
				case k < 2:
					var m *core.Mut
					if m, err = trx.Create(ctx, "album"); err == nil {
						err = m.Set("year", rng.IntN(8))
					}
				case k < 9:
					var m *core.Mut
					if m, err = trx.Edit(ctx, "album", ids[rng.IntN(len(ids))]); err == nil {
						err = m.Set("year", rng.IntN(8))
						if err == nil {
							err = m.Set("name", fmt.Sprint(w, "-", i))
						}
					}
				default:
					err = trx.Delete(ctx, "album", ids[rng.IntN(len(ids))])
				}
				if err == nil {
					err = trx.Commit(ctx)
				}
				if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, core.ErrDeleted) {
					t.Error(err)
					return
				}
			}
		}()
	}
	type tracked struct {
		lq *core.LiveQuery
		r  *replay
	}
	var mu sync.Mutex
	var all []tracked
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			for i := range 30 {
				q := []string{"year >= 3", "true ORDER BY year LIMIT 3", "year < 5 ORDER BY year DESC LIMIT 2"}[i%3]
				lq, err := c.Query(ctx, "album", q)
				if err != nil {
					t.Error(err)
					return
				}
				rp := track(lq)
				if rng.IntN(3) == 0 {
					if err := lq.UpdateSelection(ctx, q); err != nil { // same selection, read again
						t.Error(err)
					}
				}
				mu.Lock()
				all = append(all, tracked{lq, rp})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i, tq := range all {
		fresh, err := c.FetchBound(ctx, "album", tq.lq.Selection())
		must(t, err)
		if !sameViews(fresh, tq.lq.Items()) {
			t.Errorf("live query %d (%s): items differ from a fresh fetch", i, tq.lq.Selection())
		}
		deadline := time.Now().Add(5 * time.Second)
		for !tq.r.matches(tq.lq.Items()) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if err := tq.r.failure(); err != nil {
			t.Errorf("live query %d (%s): %v", i, tq.lq.Selection(), err)
		} else if !tq.r.matches(tq.lq.Items()) {
			t.Errorf("live query %d (%s): its ChangeSets replay to another result than Items()", i, tq.lq.Selection())
		}
		tq.lq.Close()
	}
}

// secretAgent refuses, row by row (no read filter), rows with secret = true
// to the context data "user".
type secretAgent struct{ policy.Permissive }

func (secretAgent) CheckRead(_ context.Context, cd policy.ContextData, st *entity.State) error {
	if s, _ := st.Values.Get("secret").AsBool(); s && cd == "user" {
		return policy.ErrAccessDenied
	}
	return nil
}

// LIMITed live queries (several per selection, so they share; one
// re-pointed to and fro) against a fresh fetch after every commit of a
// random sequence: rows hidden row by row by the policy, ties in the
// order, deletes, several entities per commit, LIMIT 0 and 1. Their
// ChangeSets replay to their result.
func TestReview_LimitedWithPerRowPolicyEqualsAFreshFetch(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(0); seed < 4; seed++ {
		n := newNodeOn(t, memory.New(), secretAgent{})
		c := n.Context("user")
		rng := rand.New(rand.NewPCG(seed, 9))
		var ids []id.EntityID
		queries := []string{"true ORDER BY n LIMIT 3", "n >= 2 ORDER BY n DESC LIMIT 1", "true ORDER BY g, n LIMIT 4", "true LIMIT 0", "g = 1 ORDER BY n LIMIT 2"}
		type tracked struct {
			lq *core.LiveQuery
			r  *replay
			q  string
		}
		var lqs []tracked
		for _, q := range queries {
			for range 2 {
				lq, err := c.Query(ctx, "row", q)
				must(t, err)
				t.Cleanup(lq.Close)
				lqs = append(lqs, tracked{lq, track(lq), q})
			}
		}
		for step := range 120 {
			trx := c.Begin()
			var created *core.Mut // its id is known once committed
			if len(ids) < 6 || rng.IntN(4) == 0 {
				m, err := trx.Create(ctx, "row")
				must(t, err)
				must(t, m.Set("n", rng.IntN(5)))
				must(t, m.Set("g", rng.IntN(2)))
				must(t, m.Set("secret", rng.IntN(3) == 0))
				created = m
			} else {
				for range 1 + rng.IntN(3) {
					eid := ids[rng.IntN(len(ids))]
					if rng.IntN(8) == 0 {
						if err := trx.Delete(ctx, "row", eid); err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, core.ErrDeleted) {
							t.Fatal(err)
						}
						continue
					}
					m, err := trx.Edit(ctx, "row", eid)
					if errors.Is(err, storage.ErrNotFound) || errors.Is(err, core.ErrDeleted) {
						continue
					}
					must(t, err)
					must(t, m.Set("n", rng.IntN(5)))
					must(t, m.Set("g", rng.IntN(2)))
					must(t, m.Set("secret", rng.IntN(3) == 0))
				}
			}
			must(t, trx.Commit(ctx))
			if created != nil {
				ids = append(ids, created.ID())
			}
			if step%17 == 0 {
				k := rng.IntN(len(lqs))
				must(t, lqs[k].lq.UpdateSelection(ctx, queries[rng.IntN(len(queries))]))
				must(t, lqs[k].lq.UpdateSelection(ctx, lqs[k].q))
			}
			for k, tq := range lqs {
				want, err := c.Fetch(ctx, "row", tq.q)
				must(t, err)
				if got := tq.lq.Items(); !sameViews(want, got) {
					t.Fatalf("seed %d step %d, query %d (%s): live %d rows, fetch %d rows", seed, step, k, tq.q, len(got), len(want))
				}
			}
		}
		for k, tq := range lqs {
			waitFor(t, "the ChangeSets replay to the result", func() bool { return tq.r.matches(tq.lq.Items()) || tq.r.failure() != nil })
			if err := tq.r.failure(); err != nil {
				t.Fatalf("seed %d, query %d (%s): %v", seed, k, tq.q, err)
			}
		}
	}
}

// Regression (review): a credential refresh that narrows what a client may
// read re-reads the subscriptions off every lock; commits landing meanwhile
// must not reach the client under its old identity (a todo of bob's
// committed during the refresh of a client that is alice by now).
func TestReview_NarrowedCredentialsStopUpdatesDuringTheRefresh(t *testing.T) {
	ctx := context.Background()
	agent := &ownerAgent{}
	server := newNodeOn(t, memory.New(), agent)
	client := newClient(t)
	p := linkAs(t, server, client, "admin")
	createTodo(t, server.Context(nil), "alice", "alice's")
	lq, err := client.Context(nil).Query(ctx, "todo", "true")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t) // Initial

	release := make(chan struct{})
	agent.mu.Lock()
	agent.blockRead, agent.blocked = release, make(chan struct{})
	blocked := agent.blocked
	agent.mu.Unlock()
	p.RefreshCredentials([]byte("alice")) // demoted
	<-blocked                             // the refresh is reading alice's rows
	createTodo(t, server.Context(nil), "bob", "bob's secret")
	leaked := false
	deadline := time.After(time.Second)
wait:
	for {
		select {
		case cs := <-s.ch:
			for _, ch := range cs.Changes {
				if title, _ := ch.Entity.Get("title").AsString(); title == "bob's secret" && ch.Kind != core.Remove {
					leaked = true
					break wait
				}
			}
		case <-deadline:
			break wait
		}
	}
	close(release)
	if leaked {
		t.Error("a client whose credentials were narrowed to alice received bob's todo, committed while the refresh ran")
	}
}

// Regression (review): the change log is bounded by bytes, not only by
// batches and states: a node that edits a small property of one entity that
// also holds a 64 KiB value, 150 times, with nobody reading, does not keep a
// copy of the whole state per edit. (The memory engine's own feed ring is
// kept to one batch here, so the heap shows the node's share.)
func TestReview_ChangeLogMemoryIsBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	n := newNodeOn(t, memory.New(memory.WithFeedRetention(1)), policy.Permissive{}, core.WithBackendCache(0))
	c := n.Context(nil)
	ids := createAlbums(t, c, album{strings.Repeat("x", 64<<10), "x", 1}) // one big event, stored once
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := heap()
	for i := range 150 {
		trx := c.Begin()
		m, err := trx.Edit(ctx, "album", ids[0])
		must(t, err)
		must(t, m.Set("year", i)) // small events; every state still holds the 64 KiB name
		must(t, trx.Commit(ctx))
	}
	grown := int64(heap()) - int64(base)
	runtime.KeepAlive(n)
	t.Logf("heap grew %d KiB", grown>>10)
	if grown > 12<<20 {
		t.Errorf("one 64 KiB entity, edited 150 times with nobody reading, grew the heap by %d MiB", grown>>20)
	}
}
