package core_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// gatedEngine holds a write inside Apply until released, as a slow disk or
// a remote database would.
type gatedEngine struct {
	storage.Engine
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newGatedEngine() *gatedEngine {
	return &gatedEngine{Engine: memory.New(), entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gatedEngine) Apply(ctx context.Context, b *storage.Batch) error {
	if g.armed.CompareAndSwap(true, false) {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Engine.Apply(ctx, b)
}

func (g *gatedEngine) LookupCollection(ctx context.Context, name string) (storage.Collection, error) {
	return g.Engine.(storage.CollectionLooker).LookupCollection(ctx, name)
}

// Regression (issue: reads under the commit lock): while a write waits in
// storage, every read — Get, Fetch, a live query's initial result, a watch,
// UpdateSelection, a client's subscription served by this node — completes;
// and the write, once stored, reaches the live queries opened meanwhile
// exactly once.
func TestReads_DoNotWaitForAWriteInStorage(t *testing.T) {
	ctx := context.Background()
	e := newGatedEngine()
	server := newNodeOn(t, e, policy.Permissive{})
	c := server.Context(nil)
	ids := createAlbums(t, c, album{"Showbiz", "Muse", 1999}, album{"Absolution", "Muse", 2003})

	e.armed.Store(true)
	committed := make(chan error, 1)
	go func() {
		trx := c.Begin()
		m, err := trx.Create(ctx, "album")
		if err == nil {
			err = m.Set("name", "Drones")
		}
		if err == nil {
			err = m.Set("year", 2015)
		}
		if err == nil {
			err = trx.Commit(ctx)
		}
		committed <- err
	}()
	<-e.entered // the write holds the node's write lock, inside Apply

	var lq, clientLQ *core.LiveQuery
	var lqs *changeSets
	within(t, "reads while a write waits in storage", func() {
		if _, err := c.Get(ctx, "album", ids[0]); err != nil {
			t.Error(err)
		}
		if vs, err := c.Fetch(ctx, "album", "year > 2000"); err != nil || len(vs) != 1 {
			t.Errorf("fetch: %d views, %v", len(vs), err)
		}
		var err error
		lq, err = c.Query(ctx, "album", "year > 2000")
		must(t, err)
		lqs = collect(lq)
		must(t, lq.UpdateSelection(ctx, "year >= 1999"))
		w, err := c.Watch(ctx, "album", ids[1])
		must(t, err)
		w.Close()
		client := newClient(t)
		link(t, server, client)
		clientLQ, err = client.Context(nil).Query(ctx, "album", "year > 2010")
		must(t, err)
	})
	close(e.release)
	must(t, <-committed)
	kinds := func(cs core.ChangeSet) string {
		var out []string
		for _, ch := range cs.Changes {
			out = append(out, ch.Kind.String()+" "+names([]*core.View{ch.Entity})[0])
		}
		return fmt.Sprint(out)
	}
	for _, want := range []string{"[Initial Absolution]", "[Add Showbiz]", "[Add Drones]"} {
		if got := kinds(lqs.next(t)); got != want {
			t.Fatalf("ChangeSet %s, want %s", got, want)
		}
	}
	lqs.none(t, lq)
	waitFor(t, "the write reaches the live query", func() bool { return len(lq.Items()) == 3 })
	waitFor(t, "the write reaches the client's live query", func() bool { return len(clientLQ.Items()) == 1 })
	lq.Close()
}

// Stress, under -race in CI: concurrent commits, fetches, live queries
// opened, re-pointed and closed, callbacks that re-enter the node, a
// client subscribed through the node, and Close in the middle. Afterwards
// every surviving live query equals a fresh fetch, each saw every change of
// its result at most once per commit, and no goroutine outlives the nodes.
func TestStress_ConcurrentCallersAndClose(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx := context.Background()
	func() {
		server, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
		must(t, err)
		defer server.Close()
		client, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
		must(t, err)
		defer client.Close()
		link(t, server, client)
		c := server.Context(nil)
		const writers, rounds = 4, 40
		ids := createAlbums(t, c, album{"a", "x", 1}, album{"b", "x", 2}, album{"c", "x", 3}, album{"d", "x", 4})
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var errs atomic.Int64
		report := func(what string, err error) {
			if err != nil && errs.Add(1) <= 5 {
				t.Errorf("%s: %v", what, err)
			}
		}
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for i := range rounds {
					trx := c.Begin()
					m, err := trx.Edit(ctx, "album", ids[rng.IntN(len(ids))])
					if err == nil {
						err = m.Set("year", rng.IntN(10))
					}
					if err == nil && i%5 == 0 {
						var n *core.Mut
						if n, err = trx.Create(ctx, "album"); err == nil {
							err = n.Set("year", rng.IntN(10))
						}
					}
					if err == nil {
						err = trx.Commit(ctx)
					}
					report("commit", err)
				}
			}()
		}
		var live sync.Map // *core.LiveQuery -> struct{}
		for r := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(r), 11))
				for i := 0; i < rounds; i++ {
					lo := rng.IntN(8)
					lq, err := c.Query(ctx, "album", fmt.Sprintf("year >= ? ORDER BY year LIMIT %d", 1+rng.IntN(4)), lo)
					if err != nil {
						report("query", err)
						continue
					}
					// A subscriber that re-enters the node.
					lq.Subscribe(func(cs core.ChangeSet) {
						_ = lq.Items()
						_, _ = c.Fetch(ctx, "album", "year < 3")
					})
					report("re-point", lq.UpdateSelection(ctx, "year >= ?", lo))
					if rng.IntN(2) == 0 {
						lq.Close()
					} else {
						live.Store(lq, struct{}{})
					}
					_, err = c.Fetch(ctx, "album", "year > ?", lo)
					report("fetch", err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := client.Context(nil)
			for i := 0; i < rounds/4; i++ {
				lq, err := cc.Query(ctx, "album", "year > ?", i%10)
				if err != nil {
					report("client query", err)
					continue
				}
				select {
				case <-stop:
					lq.Close()
					return
				default:
				}
				live.Store(lq, struct{}{})
			}
		}()
		wg.Wait()
		close(stop)
		// Quiesced: every surviving server-side live query equals a fresh fetch.
		live.Range(func(k, _ any) bool {
			lq := k.(*core.LiveQuery)
			if lq.Collection() != "album" {
				return true
			}
			b := lq.Selection()
			if lq.Err() != nil {
				return true
			}
			fresh, err := c.FetchBound(ctx, "album", b)
			must(t, err)
			if !sameViews(fresh, lq.Items()) {
				// Client live queries follow asynchronously: give them time.
				waitFor(t, fmt.Sprintf("%s equals a fresh fetch", lq), func() bool {
					fresh, _ := c.FetchBound(ctx, "album", b)
					return sameViews(fresh, lq.Items())
				})
			}
			return true
		})
	}()
	waitFor(t, "no goroutine outlives the closed nodes", func() bool { return runtime.NumGoroutine() <= before+2 })
}

func sameViews(a, b []*core.View) bool {
	key := func(vs []*core.View) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = v.ID().String() + "@" + fmt.Sprint(v.Head())
		}
		return out
	}
	return slices.Equal(key(a), key(b))
}

// The change log reconciles a live query's initial result with commits that
// land while it is read: over many rounds of commits racing query setup,
// each live query ends equal to a fresh fetch and never reports an entity
// twice in one result.
func TestLiveQuery_SetupRacingCommitsMissesNothing(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			createAlbums(t, c, album{fmt.Sprint(i), "x", i % 7})
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	var lqs []*core.LiveQuery
	for time.Now().Before(deadline) && len(lqs) < 200 {
		lq, err := c.Query(ctx, "album", "year >= 3")
		must(t, err)
		lqs = append(lqs, lq)
	}
	close(stop)
	wg.Wait()
	fresh, err := c.Fetch(ctx, "album", "year >= 3")
	must(t, err)
	for _, lq := range lqs {
		waitFor(t, "live query equals a fresh fetch", func() bool { return sameSet(fresh, lq.Items()) })
		seen := map[id.EntityID]bool{}
		for _, v := range lq.Items() {
			if seen[v.ID()] {
				t.Fatalf("%s holds %s twice", lq, v.ID())
			}
			seen[v.ID()] = true
		}
		lq.Close()
	}
}

func sameSet(a, b []*core.View) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[id.EntityID]string{}
	for _, v := range a {
		m[v.ID()] = fmt.Sprint(v.Head())
	}
	for _, v := range b {
		if m[v.ID()] != fmt.Sprint(v.Head()) {
			return false
		}
	}
	return true
}

// LIMITed live queries set up while commits land — some entering their
// window, most not — end equal to a fresh fetch.
func TestLiveQuery_LimitedSetupRacingCommitsMissesNothing(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c := n.Context(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			createAlbums(t, c, album{fmt.Sprint(i), "x", i % 50})
		}
	}()
	const q = "year >= 40 ORDER BY year DESC LIMIT 5"
	var lqs []*core.LiveQuery
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && len(lqs) < 200 {
		lq, err := c.Query(ctx, "album", q)
		must(t, err)
		lqs = append(lqs, lq)
	}
	close(stop)
	wg.Wait()
	fresh, err := c.Fetch(ctx, "album", q)
	must(t, err)
	for _, lq := range lqs {
		waitFor(t, "LIMITed live query equals a fresh fetch", func() bool { return sameViews(fresh, lq.Items()) })
		lq.Close()
	}
}
