package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// faultEngine is a real engine whose next Apply first runs a hook, which
// may write through another node or fail the call.
type faultEngine struct {
	storage.Engine
	mu     sync.Mutex
	before func() error
}

func (f *faultEngine) Apply(ctx context.Context, b *storage.Batch) error {
	f.mu.Lock()
	hook := f.before
	f.before = nil
	f.mu.Unlock()
	if hook != nil {
		if err := hook(); err != nil {
			return err
		}
	}
	return f.Engine.Apply(ctx, b)
}

func (f *faultEngine) onNextApply(hook func() error) {
	f.mu.Lock()
	f.before = hook
	f.mu.Unlock()
}

func cacheTestNode(t *testing.T, e storage.Engine, opts ...Option) *Node {
	t.Helper()
	n, err := NewNode(context.Background(), e, policy.Permissive{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// createEntity commits a new entity with the given properties.
func createEntity(t *testing.T, n *Node, props map[string]any) id.EntityID {
	t.Helper()
	ctx := context.Background()
	trx := n.Context(nil).Begin()
	m, err := trx.Create(ctx, "album")
	mustDo(t, err)
	for k, v := range props {
		mustDo(t, m.Set(k, v))
	}
	mustDo(t, trx.Commit(ctx))
	return m.ID()
}

// setAndCommit edits one entity in its own transaction.
func setAndCommit(t *testing.T, n *Node, eid id.EntityID, props map[string]any) error {
	t.Helper()
	ctx := context.Background()
	trx := n.Context(nil).Begin()
	m, err := trx.Edit(ctx, "album", eid)
	if err != nil {
		return err
	}
	for k, v := range props {
		mustDo(t, m.Set(k, v))
	}
	return trx.Commit(ctx)
}

// editValue is the value of prop as a new transaction's Mut sees it (from
// the backends Edit hands out, cached or decoded).
func editValue(t *testing.T, n *Node, eid id.EntityID, prop string) value.Value {
	t.Helper()
	trx := n.Context(nil).Begin()
	defer trx.Rollback()
	m, err := trx.Edit(context.Background(), "album", eid)
	mustDo(t, err)
	return m.Get(prop)
}

func storedValue(t *testing.T, n *Node, eid id.EntityID, prop string) value.Value {
	t.Helper()
	coll, err := n.Engine().Collection(context.Background(), "album")
	mustDo(t, err)
	st, err := coll.GetState(context.Background(), eid)
	mustDo(t, err)
	return st.Values.Get(prop)
}

func (c *backendCache) stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

func TestBackendCache_EditAfterCommitForksWithoutDecoding(t *testing.T) {
	n := cacheTestNode(t, memory.New())
	eid := createEntity(t, n, map[string]any{"name": "a"})
	for i := range 5 {
		mustDo(t, setAndCommit(t, n, eid, map[string]any{"n": i}))
	}
	hits, misses := n.cache.stats()
	// Each Edit forks what the previous commit cached and each commit takes
	// it back: two hits per round, nothing decoded.
	if hits != 10 || misses != 0 {
		t.Errorf("hits, misses = %d, %d; want 10, 0", hits, misses)
	}
	if got := editValue(t, n, eid, "n"); got != value.Int(4) {
		t.Errorf("n = %v, want 4", got)
	}
}

func TestBackendCache_ForksAreIndependentOfTheCachedState(t *testing.T) {
	ctx := context.Background()
	n := cacheTestNode(t, memory.New())
	eid := createEntity(t, n, map[string]any{"name": "a"})
	c := n.Context(nil)
	t1, t2 := c.Begin(), c.Begin()
	m1, err := t1.Edit(ctx, "album", eid)
	mustDo(t, err)
	m2, err := t2.Edit(ctx, "album", eid)
	mustDo(t, err)
	mustDo(t, m1.Set("name", "one"))
	mustDo(t, m2.Set("name", "two"))
	if m1.Get("name") != value.String("one") || m2.Get("name") != value.String("two") {
		t.Fatalf("forks see each other's edits: %v, %v", m1.Get("name"), m2.Get("name"))
	}
	t1.Rollback()
	t2.Rollback()
	if got := editValue(t, n, eid, "name"); got != value.String("a") {
		t.Errorf("after two rolled-back edits, name = %v, want the stored a", got)
	}
}

func TestBackendCache_FailedWriteLeavesNothingAheadOfStorage(t *testing.T) {
	fe := &faultEngine{Engine: memory.New()}
	n := cacheTestNode(t, fe)
	eid := createEntity(t, n, map[string]any{"name": "a"})
	errDisk := errors.New("disk on fire")
	fe.onNextApply(func() error { return errDisk })
	if err := setAndCommit(t, n, eid, map[string]any{"name": "lost"}); !errors.Is(err, errDisk) {
		t.Fatalf("commit = %v, want the engine's error", err)
	}
	// The commit applied its event to the cached backends before the write
	// failed; an edit at the stored head must not see it.
	if got := editValue(t, n, eid, "name"); got != value.String("a") {
		t.Fatalf("after a failed write, an edit sees name = %v, want the stored a", got)
	}
	mustDo(t, setAndCommit(t, n, eid, map[string]any{"name": "b"}))
	if got := storedValue(t, n, eid, "name"); got != value.String("b") {
		t.Errorf("stored name = %v, want b", got)
	}
}

func TestBackendCache_ConflictRetryMergesOntoTheNewHead(t *testing.T) {
	shared := memory.New()
	fe := &faultEngine{Engine: shared}
	a := cacheTestNode(t, fe)
	b := cacheTestNode(t, shared) // another node on the same database
	eid := createEntity(t, a, map[string]any{"name": "a", "x": 0, "y": 0})
	// Between a's prepare and its write, b commits: a's write conflicts,
	// a merges onto b's head and retries.
	fe.onNextApply(func() error { return setAndCommit(t, b, eid, map[string]any{"y": 2}) })
	mustDo(t, setAndCommit(t, a, eid, map[string]any{"x": 1}))
	for prop, want := range map[string]value.Value{"x": value.Int(1), "y": value.Int(2)} {
		if got := storedValue(t, a, eid, prop); got != want {
			t.Errorf("stored %s = %v, want %v", prop, got, want)
		}
		if got := editValue(t, a, eid, prop); got != want {
			t.Errorf("a's edit sees %s = %v, want %v", prop, got, want)
		}
		if got := editValue(t, b, eid, prop); got != want {
			t.Errorf("b's edit sees %s = %v, want %v", prop, got, want)
		}
	}
}

func TestBackendCache_ConcurrentCommitsOnOneEntityKeepEveryEdit(t *testing.T) {
	n := cacheTestNode(t, memory.New(), WithCommitRetries(1000))
	eid := createEntity(t, n, map[string]any{"name": "a"})
	const writers, rounds = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				errs <- setAndCommit(t, n, eid, map[string]any{fmt.Sprintf("w%d_%d", w, r): r})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustDo(t, err)
	}
	for w := range writers {
		for r := range rounds {
			prop := fmt.Sprintf("w%d_%d", w, r)
			if got := storedValue(t, n, eid, prop); got != value.Int(int64(r)) {
				t.Errorf("stored %s = %v, want %d", prop, got, r)
			}
			if got := editValue(t, n, eid, prop); got != value.Int(int64(r)) {
				t.Errorf("edit sees %s = %v, want %d", prop, got, r)
			}
		}
	}
}

// TestBackendCache_ReplicasWithAndWithoutCacheStoreTheSameBytes replays the
// events of concurrent transactions, in causal orders, on a node with the
// cache and on one without: both must store byte-identical states.
func TestBackendCache_ReplicasWithAndWithoutCacheStoreTheSameBytes(t *testing.T) {
	ctx := context.Background()
	src := cacheTestNode(t, memory.New())
	eid := createEntity(t, src, map[string]any{"name": "a"})
	c := src.Context(nil)
	for round := range 4 {
		var trxs []*Transaction
		for i := range 3 {
			trx := c.Begin()
			m, err := trx.Edit(ctx, "album", eid)
			mustDo(t, err)
			mustDo(t, m.Set("name", fmt.Sprintf("r%d-t%d", round, i)))
			mustDo(t, m.Set(fmt.Sprintf("p%d", i), round))
			trxs = append(trxs, trx)
		}
		for _, trx := range trxs {
			mustDo(t, trx.Commit(ctx))
		}
	}
	coll, _ := src.Engine().Collection(ctx, "album")
	evs, err := coll.EntityEvents(ctx, eid)
	mustDo(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 10 {
		order := causalOrder(rng, evs)
		var states [2][]byte
		for i, opts := range [][]Option{nil, {WithBackendCache(0)}} {
			replica := cacheTestNode(t, memory.New(), opts...)
			for _, ev := range order {
				_, err := replica.commitEvents(ctx, nil, "", []event.Event{ev}, false, nil)
				mustDo(t, err)
			}
			rc, _ := replica.Engine().Collection(ctx, "album")
			st, err := rc.GetState(ctx, eid)
			mustDo(t, err)
			states[i], err = st.Encode()
			mustDo(t, err)
		}
		if string(states[0]) != string(states[1]) {
			t.Fatalf("trial %d: the cached replica stored different bytes than the uncached one", trial)
		}
	}
}

// causalOrder shuffles events so that every event follows its parents.
func causalOrder(rng *rand.Rand, evs []event.Event) []event.Event {
	done := map[id.EventID]bool{}
	rest := append([]event.Event(nil), evs...)
	var out []event.Event
	for len(rest) > 0 {
		var ready []int
		for i, ev := range rest {
			ok := true
			for _, p := range ev.Parent {
				if !done[p] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, i)
			}
		}
		i := ready[rng.IntN(len(ready))]
		out = append(out, rest[i])
		done[rest[i].ID()] = true
		rest = append(rest[:i], rest[i+1:]...)
	}
	return out
}

func TestBackendCache_EvictsTheLeastRecentlyUsed(t *testing.T) {
	c := newBackendCache(2)
	head := func(b byte) event.Clock { return event.NewClock(id.EventID{b}) }
	lww := func() backendSet {
		f, err := property.Lookup(property.LWWName)
		mustDo(t, err)
		b, err := f(nil)
		mustDo(t, err)
		return backendSet{{name: property.LWWName, b: b}}
	}
	e1, e2, e3 := id.EntityID{1}, id.EntityID{2}, id.EntityID{3}
	c.put("c", e1, head(1), lww(), 0)
	c.put("c", e2, head(2), lww(), 0)
	if _, ok := c.forks("c", e1, head(1)); !ok { // e1 is now the most recent
		t.Fatal("e1 not cached")
	}
	c.put("c", e3, head(3), lww(), 0) // evicts e2
	if _, ok := c.forks("c", e2, head(2)); ok {
		t.Error("e2 still cached beyond capacity")
	}
	if _, ok := c.forks("c", e1, head(1)); !ok {
		t.Error("e1, recently used, was evicted")
	}
	if _, ok := c.forks("c", e1, head(9)); ok {
		t.Error("an entry answered for another head")
	}
	if _, _, ok := c.take("c", e3, head(3)); !ok {
		t.Fatal("take missed e3")
	}
	if _, ok := c.forks("c", e3, head(3)); ok {
		t.Error("a taken entry is still cached")
	}
	off := newBackendCache(0)
	off.put("c", e1, head(1), lww(), 0)
	if _, ok := off.forks("c", e1, head(1)); ok {
		t.Error("a cache of capacity 0 holds entries")
	}
}
