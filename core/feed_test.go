package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// sharedPair is two durable nodes on one memory store, as two servers on one
// database: each follows the store's change feed.
func sharedPair(t *testing.T) (*core.Node, *core.Node) {
	t.Helper()
	e := memory.New()
	e2, err := e.Share()
	must(t, err)
	t.Cleanup(func() { e2.Close() })
	return newNodeOn(t, e, policy.Permissive{}, core.WithSharedStorage()), newNodeOn(t, e2, policy.Permissive{}, core.WithSharedStorage())
}

// Regression (several servers on one database share storage but not live
// updates): a create, an edit and a delete through one node reach the live
// queries of the other, and its own, exactly once each.
func TestSharedStorage_CommitsReachEveryNodesLiveQueries(t *testing.T) {
	ctx := context.Background()
	a, b := sharedPair(t)
	lqA, err := a.Context(nil).Query(ctx, "album", "year > 2000")
	must(t, err)
	defer lqA.Close()
	lqB, err := b.Context(nil).Query(ctx, "album", "year > 2000")
	must(t, err)
	defer lqB.Close()
	sa, sb := collect(lqA), collect(lqB)
	sa.next(t)
	sb.next(t)

	ids := createAlbums(t, b.Context(nil), album{"Drones", "Muse", 2015})
	// The writer's own live query is current when Commit returns.
	if got := names(lqB.Items()); len(got) != 1 {
		t.Fatalf("writer's live query after Commit: %v", got)
	}
	for _, s := range []*changeSets{sa, sb} {
		if cs := s.next(t); len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Add {
			t.Fatalf("create: %+v", cs.Changes)
		}
	}
	// An edit that moves it out of the query (the other node never saw its
	// earlier state through an index term): Remove on both.
	trx := b.Context(nil).Begin()
	m, err := trx.Edit(ctx, "album", ids[0])
	must(t, err)
	must(t, m.Set("year", 1999))
	must(t, trx.Commit(ctx))
	for _, s := range []*changeSets{sa, sb} {
		if cs := s.next(t); len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Remove {
			t.Fatalf("edit out: %+v", cs.Changes)
		}
	}
	// Back in, edited through a, then deleted through b.
	trx = a.Context(nil).Begin()
	m, err = trx.Edit(ctx, "album", ids[0])
	must(t, err)
	must(t, m.Set("year", 2016))
	must(t, trx.Commit(ctx))
	for _, s := range []*changeSets{sa, sb} {
		if cs := s.next(t); len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Add {
			t.Fatalf("edit in: %+v", cs.Changes)
		}
	}
	trx = b.Context(nil).Begin()
	must(t, trx.Delete(ctx, "album", ids[0]))
	must(t, trx.Commit(ctx))
	for _, s := range []*changeSets{sa, sb} {
		if cs := s.next(t); len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Remove {
			t.Fatalf("delete: %+v", cs.Changes)
		}
	}
	sa.none(t, lqA)
	sb.none(t, lqB)
}

// An edit through one node starts from the state another node wrote (no
// acknowledged write is reverted by a stale copy).
func TestSharedStorage_EditsStartFromTheCurrentState(t *testing.T) {
	ctx := context.Background()
	a, b := sharedPair(t)
	ids := createAlbums(t, a.Context(nil), album{"x", "y", 2000})
	lq, err := a.Context(nil).Query(ctx, "album", "true")
	must(t, err)
	defer lq.Close()
	for i := 0; i < 20; i++ {
		trx := b.Context(nil).Begin()
		m, err := trx.Edit(ctx, "album", ids[0])
		must(t, err)
		must(t, m.Set("name", "b"))
		must(t, trx.Commit(ctx))
	}
	trx := a.Context(nil).Begin()
	m, err := trx.Edit(ctx, "album", ids[0])
	must(t, err)
	must(t, m.Set("name", "a"))
	must(t, trx.Commit(ctx))
	for _, n := range []*core.Node{a, b} {
		v, err := n.Context(nil).Get(ctx, "album", ids[0])
		must(t, err)
		if s, _ := v.Get("name").AsString(); s != "a" {
			t.Fatalf("the last acknowledged write was reverted: %q", s)
		}
	}
	waitFor(t, "the live query holds the last write", func() bool {
		items := lq.Items()
		return len(items) == 1 && names(items)[0] == "a"
	})
}

func TestSharedStorage_NeedsAChangeFeed(t *testing.T) {
	_, err := core.NewNode(context.Background(), noFeed{memory.New()}, policy.Permissive{}, core.WithSharedStorage())
	if !errors.Is(err, core.ErrNoChangeFeed) {
		t.Fatalf("an engine without a feed: %v", err)
	}
}

type noFeed struct{ e *memory.Engine }

func (n noFeed) Collection(ctx context.Context, name string) (storage.Collection, error) {
	return n.e.Collection(ctx, name)
}
func (n noFeed) Apply(ctx context.Context, b *storage.Batch) error { return n.e.Apply(ctx, b) }
func (n noFeed) Close() error                                      { return n.e.Close() }

// A client subscribed through one server hears of a commit made through
// another.
func TestSharedStorage_ClientsOfOneServerHearOfAnothersCommits(t *testing.T) {
	ctx := context.Background()
	a, b := sharedPair(t)
	client := newClient(t)
	link(t, a, client)
	lq, err := client.Context(nil).Query(ctx, "album", "artist = ?", "Muse")
	must(t, err)
	defer lq.Close()
	createAlbums(t, b.Context(nil), album{"Drones", "Muse", 2015}, album{"Other", "Else", 2015})
	waitFor(t, "the client's live query holds the album written through the other server", func() bool {
		return len(lq.Items()) == 1
	})
}

// Concurrent writers on two nodes sharing a store, all editing one entity:
// every commit is acknowledged (conflicts retry), both nodes and their live
// queries end on the same state, and that state holds the last write of
// some writer.
func TestSharedStorage_ConcurrentWritersConverge(t *testing.T) {
	ctx := context.Background()
	a, b := sharedPair(t)
	ids := createAlbums(t, a.Context(nil), album{"start", "x", 0})
	lqs := []*core.LiveQuery{}
	for _, n := range []*core.Node{a, b} {
		lq, err := n.Context(nil).Query(ctx, "album", "true")
		must(t, err)
		defer lq.Close()
		lqs = append(lqs, lq)
	}
	var wg sync.WaitGroup
	for w := range 6 {
		n := []*core.Node{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				trx := n.Context(nil).Begin()
				m, err := trx.Edit(ctx, "album", ids[0])
				if err == nil {
					err = m.Set("year", w*100+i)
				}
				if err == nil {
					err = trx.Commit(ctx)
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	va, err := a.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	vb, err := b.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	if !va.Head().Equal(vb.Head()) {
		t.Fatalf("nodes disagree: %v vs %v", va.Head(), vb.Head())
	}
	for i, lq := range lqs {
		waitFor(t, fmt.Sprintf("live query %d holds the final state", i), func() bool {
			items := lq.Items()
			return len(items) == 1 && items[0].Head().Equal(va.Head())
		})
	}
}

// A node publishes its own commit as soon as it is stored when that keeps
// the entity's commit order, and otherwise when the feed delivers it: with
// writers on both nodes editing one entity, every live query sees each
// writer's field only grow (an older state published after a newer one
// would step it back), and both end at the final state.
func TestSharedStorage_OwnCommitsKeepCommitOrderPerEntity(t *testing.T) {
	ctx := context.Background()
	a, b := sharedPair(t)
	ids := createAlbums(t, a.Context(nil), album{"start", "x", 0})
	const writers, edits = 4, 25
	type seen struct {
		mu   sync.Mutex
		last [writers]int64
		errs []string
	}
	var lqs []*core.LiveQuery
	for i, n := range []*core.Node{a, b} {
		lq, err := n.Context(nil).Query(ctx, "album", "true")
		must(t, err)
		defer lq.Close()
		lqs = append(lqs, lq)
		s := &seen{}
		lq.Subscribe(func(cs core.ChangeSet) {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, ch := range cs.Changes {
				for w := range writers {
					v, ok := ch.Entity.Get(fmt.Sprintf("w%d", w)).AsInt()
					if !ok {
						continue
					}
					if v < s.last[w] {
						s.errs = append(s.errs, fmt.Sprintf("node %d: w%d went from %d back to %d", i, w, s.last[w], v))
					}
					s.last[w] = v
				}
			}
		})
		t.Cleanup(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, e := range s.errs {
				t.Error(e)
			}
		})
	}
	var wg sync.WaitGroup
	for w := range writers {
		n := []*core.Node{a, b}[w%2]
		wg.Go(func() {
			for i := range edits {
				trx := n.Context(nil).Begin()
				m, err := trx.Edit(ctx, "album", ids[0])
				if err == nil {
					err = m.Set(fmt.Sprintf("w%d", w), i+1)
				}
				if err == nil {
					err = trx.Commit(ctx)
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	va, err := a.Context(nil).Get(ctx, "album", ids[0])
	must(t, err)
	for i, lq := range lqs {
		waitFor(t, fmt.Sprintf("live query %d holds the final state", i), func() bool {
			items := lq.Items()
			return len(items) == 1 && items[0].Head().Equal(va.Head())
		})
	}
}
