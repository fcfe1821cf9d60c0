package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

func newNode(t testing.TB, opts ...core.Option) *core.Node {
	t.Helper()
	return newNodeOn(t, memory.New(), policy.Permissive{}, opts...)
}

func newNodeOn(t testing.TB, e storage.Engine, a policy.Agent, opts ...core.Option) *core.Node {
	t.Helper()
	n, err := core.NewNode(context.Background(), e, a, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

type album struct {
	name   string
	artist string
	year   int
}

func createAlbums(t testing.TB, c *core.Context, albums ...album) []id.EntityID {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	var muts []*core.Mut
	for _, a := range albums {
		m, err := trx.Create(ctx, "album")
		if err != nil {
			t.Fatal(err)
		}
		must(t, m.Set("name", a.name))
		must(t, m.Set("artist", a.artist))
		must(t, m.Set("year", a.year))
		muts = append(muts, m)
	}
	must(t, trx.Commit(ctx))
	ids := make([]id.EntityID, len(muts))
	for i, m := range muts {
		ids[i] = m.ID()
	}
	return ids
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func names(vs []*core.View) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		s, _ := v.Get("name").AsString()
		out[i] = s
	}
	return out
}

var discography = []album{
	{"Showbiz", "Muse", 1999},
	{"Origin of Symmetry", "Muse", 2001},
	{"Absolution", "Muse", 2003},
	{"OK Computer", "Radiohead", 1997},
	{"Kid A", "Radiohead", 2000},
}

func TestNode_CreateGetFetch(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	ids := createAlbums(t, c, discography...)
	v, err := c.Get(ctx, "album", ids[1])
	must(t, err)
	if got, _ := v.Get("name").AsString(); got != "Origin of Symmetry" {
		t.Fatalf("Get name = %q", got)
	}
	got, err := c.Fetch(ctx, "album", "artist = ? ORDER BY year DESC LIMIT 2", "Muse")
	must(t, err)
	if fmt.Sprint(names(got)) != "[Absolution Origin of Symmetry]" {
		t.Fatalf("Fetch = %v", names(got))
	}
	if _, err := c.Get(ctx, "album", id.EntityID{1}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of unknown id: %v", err)
	}
	if _, err := c.Fetch(ctx, "album", "year >"); err == nil {
		t.Fatal("Fetch of a broken query must fail")
	}
}

func TestTransaction_EditAfterEndFails(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	trx := c.Begin()
	m, err := trx.Create(ctx, "album")
	must(t, err)
	must(t, m.Set("name", "x"))
	must(t, trx.Commit(ctx))
	if err := m.Set("name", "y"); !errors.Is(err, core.ErrTransactionDone) {
		t.Fatalf("Set after commit: %v", err)
	}
	if err := trx.Commit(ctx); !errors.Is(err, core.ErrTransactionDone) {
		t.Fatalf("second Commit: %v", err)
	}
	trx2 := c.Begin()
	m2, err := trx2.Edit(ctx, "album", m.ID())
	must(t, err)
	trx2.Rollback()
	if err := m2.Set("name", "z"); !errors.Is(err, core.ErrTransactionDone) {
		t.Fatalf("Set after rollback: %v", err)
	}
	v, _ := c.Get(ctx, "album", m.ID())
	if s, _ := v.Get("name").AsString(); s != "x" {
		t.Fatalf("rolled back edit leaked: %q", s)
	}
}

func TestTransaction_ReservedAndInvalidNames(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	trx := c.Begin()
	m, _ := trx.Create(ctx, "album")
	if err := m.Set("_deleted", true); !errors.Is(err, core.ErrInvalidName) {
		t.Fatalf("reserved property: %v", err)
	}
	if _, err := trx.Create(ctx, ""); !errors.Is(err, core.ErrInvalidName) {
		t.Fatalf("empty collection: %v", err)
	}
}

// denyAgent refuses any event that sets name to "forbidden".
type denyAgent struct{ policy.Permissive }

var errForbidden = fmt.Errorf("%w: forbidden name", policy.ErrAccessDenied)

func (denyAgent) CheckEvent(_ context.Context, _ policy.ContextData, _ *event.Event, _, after *entity.State) error {
	if s, _ := after.Values.Get("name").AsString(); s == "forbidden" {
		return errForbidden
	}
	return nil
}

func TestCommit_DenialWritesNothing(t *testing.T) {
	ctx := context.Background()
	eng := memory.New()
	c := newNodeOn(t, eng, denyAgent{}).Context(nil)
	ids := createAlbums(t, c, album{"ok", "a", 1})
	trx := c.Begin()
	m1, _ := trx.Edit(ctx, "album", ids[0])
	must(t, m1.Set("name", "changed"))
	m2, _ := trx.Create(ctx, "album")
	must(t, m2.Set("name", "forbidden"))
	err := trx.Commit(ctx)
	if !errors.Is(err, policy.ErrAccessDenied) {
		t.Fatalf("Commit = %v, want ErrAccessDenied", err)
	}
	all, err := c.Fetch(ctx, "album", "true")
	must(t, err)
	if fmt.Sprint(names(all)) != "[ok]" {
		t.Fatalf("after denied commit: %v", names(all))
	}
	coll, _ := eng.Collection(ctx, "album")
	evs, _ := coll.EntityEvents(ctx, ids[0])
	if len(evs) != 1 {
		t.Fatalf("denied commit stored events: %d", len(evs))
	}
}

func TestDelete_LeavesQueriesAndGet(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	ids := createAlbums(t, c, discography...)
	lq, err := c.Query(ctx, "album", "artist = 'Muse'")
	must(t, err)
	defer lq.Close()
	sets := collect(lq)
	trx := c.Begin()
	must(t, trx.Delete(ctx, "album", ids[0]))
	must(t, trx.Commit(ctx))
	if _, err := c.Get(ctx, "album", ids[0]); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get deleted: %v", err)
	}
	got, _ := c.Fetch(ctx, "album", "artist = 'Muse'")
	if len(got) != 2 {
		t.Fatalf("Fetch after delete: %v", names(got))
	}
	cs := sets.next(t)
	if cs.Changes[0].Kind != core.Initial {
		t.Fatalf("first ChangeSet %v", cs.Changes)
	}
	cs = sets.next(t)
	if len(cs.Changes) != 1 || cs.Changes[0].Kind != core.Remove || cs.Changes[0].Entity.ID() != ids[0] {
		t.Fatalf("delete ChangeSet %+v", cs.Changes)
	}
	trx = c.Begin()
	if _, err := trx.Edit(ctx, "album", ids[0]); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Edit deleted: %v", err)
	}
}

// changeSets collects a live query's ChangeSets for tests.
type changeSets struct{ ch chan core.ChangeSet }

func collect(lq *core.LiveQuery) *changeSets {
	s := &changeSets{ch: make(chan core.ChangeSet, 1000)}
	lq.Subscribe(func(cs core.ChangeSet) { s.ch <- cs })
	return s
}

func (s *changeSets) next(t testing.TB) core.ChangeSet {
	t.Helper()
	select {
	case cs := <-s.ch:
		return cs
	case <-time.After(10 * time.Second):
		t.Fatal("no ChangeSet within 10s")
	}
	return core.ChangeSet{}
}

// none asserts nothing more arrives once the live query has drained what was queued.
func (s *changeSets) none(t testing.TB, lq *core.LiveQuery) {
	t.Helper()
	done := make(chan struct{})
	unsub := lq.Subscribe(func(core.ChangeSet) { close(done) })
	<-done
	unsub()
	select {
	case cs := <-s.ch:
		t.Fatalf("unexpected ChangeSet %+v", cs.Changes)
	default:
	}
}

func kinds(cs core.ChangeSet) string {
	var out []string
	for _, c := range cs.Changes {
		s, _ := c.Entity.Get("name").AsString()
		out = append(out, c.Kind.String()+":"+s)
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

func TestLiveQuery_AddUpdateRemoveOnePerCommit(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	ids := createAlbums(t, c, discography...)
	lq, err := c.Query(ctx, "album", "year >= ? ORDER BY year", 2000)
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	if got := kinds(s.next(t)); got != "[Initial:Absolution Initial:Kid A Initial:Origin of Symmetry]" {
		t.Fatal(got)
	}
	// One commit touching three entities: one Add, one Update, one Remove, one ChangeSet.
	trx := c.Begin()
	m, _ := trx.Edit(ctx, "album", ids[0]) // Showbiz 1999 -> 2009: Add
	must(t, m.Set("year", 2009))
	m, _ = trx.Edit(ctx, "album", ids[1]) // Origin renamed: Update
	must(t, m.Set("name", "Origin of Symmetry XX"))
	m, _ = trx.Edit(ctx, "album", ids[4]) // Kid A -> 1990: Remove
	must(t, m.Set("year", 1990))
	must(t, trx.Commit(ctx))
	if got := kinds(s.next(t)); got != "[Add:Showbiz Remove:Kid A Update:Origin of Symmetry XX]" {
		t.Fatal(got)
	}
	if got := fmt.Sprint(names(lq.Items())); got != "[Origin of Symmetry XX Absolution Showbiz]" {
		t.Fatalf("items in order: %s", got)
	}
	// A commit that touches nothing the query sees notifies nothing.
	trx = c.Begin()
	m, _ = trx.Edit(ctx, "album", ids[3])
	must(t, m.Set("artist", "Radiohead!"))
	must(t, trx.Commit(ctx))
	s.none(t, lq)
}

func TestLiveQuery_LimitRefillsBeforeNotifying(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	ids := createAlbums(t, c, discography...)
	lq, err := c.Query(ctx, "album", "artist = 'Muse' OR artist = 'Radiohead' ORDER BY year DESC LIMIT 2")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t)
	trx := c.Begin()
	must(t, trx.Delete(ctx, "album", ids[2])) // Absolution (2003) leaves; Kid A (2000) fills the gap
	must(t, trx.Commit(ctx))
	cs := s.next(t)
	if got := kinds(cs); got != "[Add:Kid A Remove:Absolution]" {
		t.Fatal(got)
	}
	if got := fmt.Sprint(names(cs.Items)); got != "[Origin of Symmetry Kid A]" {
		t.Fatal(got)
	}
}

func TestLiveQuery_UpdateSelectionReportsDifference(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	createAlbums(t, c, discography...)
	lq, err := c.Query(ctx, "album", "year < 2000")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	s.next(t)
	must(t, lq.UpdateSelection(ctx, "year <= ?", 2000))
	if got := kinds(s.next(t)); got != "[Add:Kid A]" {
		t.Fatal(got)
	}
	must(t, lq.UpdateSelection(ctx, "artist = 'Radiohead'"))
	if got := kinds(s.next(t)); got != "[Remove:Showbiz]" {
		t.Fatal(got)
	}
	// The re-pointed query follows the new selection.
	createAlbums(t, c, album{"Amnesiac", "Radiohead", 2001}, album{"Drones", "Muse", 2015})
	if got := kinds(s.next(t)); got != "[Add:Amnesiac]" {
		t.Fatal(got)
	}
}

func TestLiveQuery_CloseStopsNotifications(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	lq, err := c.Query(ctx, "album", "true")
	must(t, err)
	s := collect(lq)
	s.next(t)
	lq.Close()
	createAlbums(t, c, album{"x", "y", 1})
	select {
	case cs := <-s.ch:
		t.Fatalf("notified after Close: %+v", cs)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestCommit_ConcurrentTransactionsMerge(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	ids := createAlbums(t, c, album{"x", "y", 1})
	t1, t2 := c.Begin(), c.Begin()
	m1, _ := t1.Edit(ctx, "album", ids[0])
	m2, _ := t2.Edit(ctx, "album", ids[0])
	must(t, m1.Set("name", "from t1"))
	must(t, m2.Set("artist", "from t2"))
	must(t, t1.Commit(ctx))
	must(t, t2.Commit(ctx))
	v, _ := c.Get(ctx, "album", ids[0])
	if n, _ := v.Get("name").AsString(); n != "from t1" {
		t.Fatalf("name %q", n)
	}
	if a, _ := v.Get("artist").AsString(); a != "from t2" {
		t.Fatalf("artist %q", a)
	}
	if len(v.Head()) != 2 {
		t.Fatalf("merged head %v, want two concurrent events", v.Head())
	}
}

func TestCommit_TwoNodesOneEngineRetry(t *testing.T) {
	ctx := context.Background()
	eng := memory.New()
	a := newNodeOn(t, eng, policy.Permissive{}).Context(nil)
	b := newNodeOn(t, eng, policy.Permissive{}).Context(nil)
	ids := createAlbums(t, a, album{"x", "y", 1})
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			trx := c.Begin()
			m, err := trx.Edit(ctx, "album", ids[0])
			if err != nil {
				errs <- err
				return
			}
			if err := m.Set(fmt.Sprintf("p%d", i), i); err != nil {
				errs <- err
				return
			}
			errs <- trx.Commit(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	v, _ := b.Get(ctx, "album", ids[0])
	for i := range writers {
		if got, _ := v.Get(fmt.Sprintf("p%d", i)).AsInt(); got != int64(i) {
			t.Fatalf("p%d = %v: a write was lost", i, v.Get(fmt.Sprintf("p%d", i)))
		}
	}
}

// TestMerge_DeterministicAcrossOrders replays the same concurrent events on
// fresh nodes in many orders; every replica must hold byte-identical state.
func TestMerge_DeterministicAcrossOrders(t *testing.T) {
	ctx := context.Background()
	src := newNode(t)
	c := src.Context(nil)
	ids := createAlbums(t, c, album{"x", "y", 1})
	// Fork three transactions off the same head, then more off the merge.
	for round := 0; round < 3; round++ {
		var trxs []*core.Transaction
		for i := 0; i < 3; i++ {
			trx := c.Begin()
			m, _ := trx.Edit(ctx, "album", ids[0])
			must(t, m.Set("name", fmt.Sprintf("r%d-t%d", round, i)))
			must(t, m.Set(fmt.Sprintf("only%d", i), round))
			trxs = append(trxs, trx)
		}
		for _, trx := range trxs {
			must(t, trx.Commit(ctx))
		}
	}
	coll, _ := src.Engine().Collection(ctx, "album")
	evs, err := coll.EntityEvents(ctx, ids[0])
	must(t, err)
	want, _ := coll.GetState(ctx, ids[0])
	wantBytes, _ := want.Encode()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		order := causalShuffle(rng, evs)
		replica := newNode(t)
		for _, ev := range order {
			must(t, core.ApplyEventsForTest(ctx, replica, []event.Event{ev}))
		}
		rc, _ := replica.Engine().Collection(ctx, "album")
		got, err := rc.GetState(ctx, ids[0])
		must(t, err)
		gotBytes, _ := got.Encode()
		if string(gotBytes) != string(wantBytes) {
			t.Fatalf("trial %d: replica state differs\n got %v\nwant %v", trial, got.Values, want.Values)
		}
	}
}

// causalShuffle returns the events in a random order in which every event
// comes after its parents.
func causalShuffle(rng *rand.Rand, evs []event.Event) []event.Event {
	done := map[id.EventID]bool{}
	rest := slices.Clone(evs)
	var out []event.Event
	for len(rest) > 0 {
		var ready []int
		for i, e := range rest {
			ok := true
			for _, p := range e.Parent {
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
		rest = slices.Delete(rest, i, i+1)
	}
	return out
}

func TestValueFromGo(t *testing.T) {
	if v := value.MustFrom(int32(5)); v != value.Int(5) {
		t.Fatal(v)
	}
}

func mustBound(t testing.TB, q string, args ...any) *query.Bound {
	t.Helper()
	b, err := query.ParseBound(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWatch_FollowsOneEntity(t *testing.T) {
	ctx := context.Background()
	c := newNode(t).Context(nil)
	ids := createAlbums(t, c, album{"Showbiz", "Muse", 1999}, album{"Kid A", "Radiohead", 2000})
	w, err := c.Watch(ctx, "album", ids[0])
	must(t, err)
	defer w.Close()
	got := make(chan *core.View, 10)
	w.Subscribe(func(v *core.View) { got <- v })
	trx := c.Begin()
	m, _ := trx.Edit(ctx, "album", ids[1]) // another entity: no notification
	must(t, m.Set("year", 2001))
	m, _ = trx.Edit(ctx, "album", ids[0])
	must(t, m.Set("name", "Showbiz (remastered)"))
	must(t, trx.Commit(ctx))
	if v := <-got; v.Get("name").Raw() != "Showbiz (remastered)" || w.Get() != v {
		t.Fatalf("watch got %v", v.Values())
	}
	trx = c.Begin()
	must(t, trx.Delete(ctx, "album", ids[0]))
	must(t, trx.Commit(ctx))
	if v := <-got; v != nil {
		t.Fatal("a deleted entity's watch must read nil")
	}
	select {
	case v := <-got:
		t.Fatalf("extra notification %v", v)
	default:
	}
}
