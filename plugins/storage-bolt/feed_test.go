package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// share opens another handle on e's file, closed at the test's end.
func share(t *testing.T, e *bolt.Engine) *bolt.Engine {
	t.Helper()
	s, err := e.Share(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var errEnough = errors.New("enough")

// followN follows f from tok until it has n batches and returns the "n"
// value of the first state of each, and the token of the last.
func followN(t *testing.T, f storage.ChangeFeed, tok storage.FeedToken, n int) ([]int64, storage.FeedToken, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against hanging
	defer cancel()
	var got []int64
	var last storage.FeedToken
	err := f.Follow(ctx, tok, func(b storage.FeedBatch) error {
		v, _ := b.Changes[0].State.Values.Get("n").AsInt()
		got, last = append(got, v), b.Token
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return got, last, err
}

// createN creates entities numbered from start to start+n-1, one batch each.
func createN(t *testing.T, e storage.Engine, start, n int) {
	t.Helper()
	for i := start; i < start+n; i++ {
		create(t, e, "feed", uint64(i), map[string]value.Value{"n": value.Int(int64(i))})
	}
}

func seq(from, to int) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, int64(i))
	}
	return out
}

func TestShare_SeesTheSameFileAndClosesAlone(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ankurah.db")
	a, err := bolt.Open(ctx, path, boltNoSync())
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Share(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Path() != path {
		t.Errorf("the shared handle's Path = %q, want %q", b.Path(), path)
	}
	s := create(t, a, "album", 1, map[string]value.Value{"year": value.Int(1959)})
	cb, err := b.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cb.GetState(ctx, s.ID); err != nil || !got.Head.Equal(s.Head) {
		t.Fatalf("the shared handle reads %v, %v; want the state the first wrote", got.Head, err)
	}
	if _, err := bolt.Open(ctx, path, bolt.WithLockTimeout(10*time.Millisecond)); !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("a second Open of the open file: %v, want ErrLocked", err)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("a second Close: %v, want ErrClosed", err)
	}
	if _, err := a.Share(ctx); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Share of a closed handle: %v, want ErrClosed", err)
	}
	if _, err := a.Collection(ctx, "album"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Collection on a closed handle: %v, want ErrClosed", err)
	}
	// The other handle goes on, and can share again.
	s2 := create(t, b, "album", 2, map[string]value.Value{"year": value.Int(1970)})
	c, err := b.Share(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Open(ctx, path, bolt.WithLockTimeout(10*time.Millisecond)); !errors.Is(err, bolt.ErrLocked) {
		t.Fatalf("Open while a handle is open: %v, want ErrLocked", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cc, err := c.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.GetState(ctx, s2.ID); err != nil {
		t.Fatalf("the last handle reads: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The last Close closed the file: it opens again, with both entities.
	d, err := bolt.Open(ctx, path, bolt.WithLockTimeout(10*time.Millisecond))
	if err != nil {
		t.Fatalf("Open after every handle closed: %v", err)
	}
	defer d.Close()
	cd, err := d.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []id.EntityID{s.ID, s2.ID} {
		if _, err := cd.GetState(ctx, want); err != nil {
			t.Errorf("after reopening, %s: %v", want, err)
		}
	}
}

// A follower on one handle gets what another commits, and a token resumes
// after every handle closed and the file opened again.
func TestFeed_ResumesAfterTheFileReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ankurah.db")
	a, err := bolt.Open(ctx, path, boltNoSync())
	if err != nil {
		t.Fatal(err)
	}
	b := share(t, a)
	head, err := b.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	createN(t, a, 0, 5)
	got, tok, err := followN(t, b, head, 3)
	if err != nil || !slices.Equal(got, seq(0, 3)) {
		t.Fatalf("follower on the other handle: %v, %v; want [0 1 2]", got, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	a, err = bolt.Open(ctx, path, boltNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	createN(t, a, 5, 3)
	c := share(t, a)
	for name, f := range map[string]storage.ChangeFeed{"the reopened handle": a, "a handle shared after reopening": c} {
		got, _, err := followN(t, f, tok, 5)
		if err != nil || !slices.Equal(got, seq(3, 8)) {
			t.Errorf("%s, from the token of batch 2: %v, %v; want [3 4 5 6 7]", name, got, err)
		}
	}

	// A token of another file is not this one's.
	other, _ := openTemp(t, boltNoSync())
	otherHead, err := other.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := followN(t, a, otherHead, 1); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("following another file's token: %v, want ErrFeedGap", err)
	}
}

// A follower further behind than WithFeedRetention gets ErrFeedGap; one
// within it gets every batch.
func TestFeed_RetentionBoundsTheLog(t *testing.T) {
	ctx := context.Background()
	e, path := openTemp(t, boltNoSync(), bolt.WithFeedRetention(3))
	head, err := e.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	createN(t, e, 0, 2)
	mid, err := e.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	createN(t, e, 2, 3)
	if got, _, err := followN(t, e, head, 5); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("following from 5 batches back with a retention of 3: %v, %v; want ErrFeedGap", got, err)
	}
	if got, _, err := followN(t, e, mid, 3); err != nil || !slices.Equal(got, seq(2, 5)) {
		t.Errorf("following from 3 batches back with a retention of 3: %v, %v; want [2 3 4]", got, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if n := logKeys(t, path); n != 4 {
		t.Errorf("the file keeps %d change log keys, want 4 (identity and 3 batches)", n)
	}
}

// newFileWithoutLog writes a format 2 file as releases before the change
// log did: an entity, no log.
func newFileWithoutLog(t *testing.T, path string) id.EntityID {
	t.Helper()
	e, err := bolt.Open(context.Background(), path, bolt.WithoutChangeFeed())
	if err != nil {
		t.Fatal(err)
	}
	s := create(t, e, "album", 1, map[string]value.Value{"year": value.Int(1959)})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if keys := logKeys(t, path); keys != 0 {
		t.Fatalf("the file without a log has %d log keys", keys)
	}
	return s.ID
}

// logKeys counts the change log's keys (identity and entries) in the file.
func logKeys(t *testing.T, path string) int {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("kv")).ForEach(func(k, _ []byte) error {
			if k[0] == 'u' || k[0] == 'c' {
				n++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A file written before the change log (format 2 without one, or format 1)
// gets the log when Open first meets it: its data stays, and batches
// committed from then on reach followers.
func TestOpen_OldFileGetsTheChangeLog(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path string) []id.EntityID
	}{
		{"format 2 without a log", func(t *testing.T, path string) []id.EntityID {
			return []id.EntityID{newFileWithoutLog(t, path)}
		}},
		{"format 1", func(t *testing.T, path string) []id.EntityID {
			_, years := writeFormat1(t, path)
			var ids []id.EntityID
			for eid := range years {
				ids = append(ids, eid)
			}
			return ids
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			ids := tc.write(t, path)
			e, err := bolt.Open(ctx, path, boltNoSync())
			if err != nil {
				t.Fatal(err)
			}
			c, err := e.LookupCollection(ctx, "album")
			if err != nil {
				t.Fatal(err)
			}
			for _, eid := range ids {
				if _, err := c.GetState(ctx, eid); err != nil {
					t.Errorf("%s after the log was added: %v", eid, err)
				}
			}
			head, err := e.FeedHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b := share(t, e)
			createN(t, b, 10, 2)
			got, tok, err := followN(t, e, head, 2)
			if err != nil || !slices.Equal(got, seq(10, 12)) {
				t.Errorf("follower after the upgrade: %v, %v; want [10 11]", got, err)
			}
			b.Close()
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if n := logKeys(t, path); n != 3 {
				t.Errorf("the upgraded file has %d change log keys, want 3 (identity and two batches)", n)
			}
			// Reopened, the log and its identity are the same.
			e, err = bolt.Open(ctx, path, boltNoSync())
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			createN(t, e, 12, 1)
			if got, _, err := followN(t, e, tok, 1); err != nil || !slices.Equal(got, seq(12, 13)) {
				t.Errorf("follower after reopening the upgraded file: %v, %v; want [12]", got, err)
			}
		})
	}
}

// Two nodes on two handles of one bolt file, both following its change
// feed: a create, edits and a delete through either reach the live queries
// of both, exactly once each.
func TestSharedStorage_TwoNodesOnOneFile(t *testing.T) {
	ctx := context.Background()
	ea, _ := openTemp(t, boltNoSync())
	eb := share(t, ea)
	a := newNode(t, ea)
	b := newNode(t, eb)

	lqA, err := a.Context(nil).Query(ctx, "album", "year > 2000")
	must(t, err)
	defer lqA.Close()
	lqB, err := b.Context(nil).Query(ctx, "album", "year > 2000")
	must(t, err)
	defer lqB.Close()
	sa, sb := collect(lqA), collect(lqB)
	sa.next(t)
	sb.next(t)
	both := func(what string, kind core.ChangeKind) {
		t.Helper()
		for i, s := range []*changeSets{sa, sb} {
			if cs := s.next(t); len(cs.Changes) != 1 || cs.Changes[0].Kind != kind {
				t.Fatalf("%s: node %d's live query got %+v, want one %v", what, i, cs.Changes, kind)
			}
		}
	}

	trx := b.Context(nil).Begin()
	m, err := trx.Create(ctx, "album")
	must(t, err)
	must(t, m.Set("name", "Drones"))
	must(t, m.Set("year", 2015))
	must(t, trx.Commit(ctx))
	eid := m.ID()
	both("create through b", core.Add)

	edit := func(n *core.Node, year int) {
		t.Helper()
		trx := n.Context(nil).Begin()
		m, err := trx.Edit(ctx, "album", eid)
		must(t, err)
		must(t, m.Set("year", year))
		must(t, trx.Commit(ctx))
	}
	edit(a, 1999)
	both("edit out of the query through a", core.Remove)
	edit(b, 2016)
	both("edit back in through b", core.Add)
	edit(a, 2017)
	both("edit within the query through a", core.Update)

	trx = a.Context(nil).Begin()
	must(t, trx.Delete(ctx, "album", eid))
	must(t, trx.Commit(ctx))
	both("delete through a", core.Remove)
	sa.none(t, lqA)
	sb.none(t, lqB)

	for i, n := range []*core.Node{a, b} {
		if _, err := n.Context(nil).Get(ctx, "album", eid); err == nil {
			t.Errorf("node %d still reads the deleted album", i)
		}
	}
}

func newNode(t *testing.T, e storage.Engine) *core.Node {
	t.Helper()
	n, err := core.NewNode(context.Background(), e, policy.Permissive{}, core.WithSharedStorage())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// changeSets collects a live query's ChangeSets.
type changeSets struct{ ch chan core.ChangeSet }

func collect(lq *core.LiveQuery) *changeSets {
	s := &changeSets{ch: make(chan core.ChangeSet, 1000)}
	lq.Subscribe(func(cs core.ChangeSet) { s.ch <- cs })
	return s
}

func (s *changeSets) next(t *testing.T) core.ChangeSet {
	t.Helper()
	select {
	case cs := <-s.ch:
		return cs
	case <-time.After(time.Minute): // a guard against hanging
		t.Fatal("no ChangeSet within a minute")
	}
	return core.ChangeSet{}
}

// none asserts nothing more arrives once the live query has drained what
// was queued (a new subscriber's first ChangeSet comes after them).
func (s *changeSets) none(t *testing.T, lq *core.LiveQuery) {
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

// Handles shared and closed from several goroutines at once: every Share of
// an open handle works, the file closes with the last handle and opens
// again.
func TestShare_ConcurrentShareAndClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ankurah.db")
	root, err := bolt.Open(ctx, path, boltNoSync())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				h, err := root.Share(ctx)
				if err != nil {
					t.Errorf("Share: %v", err)
					return
				}
				ev, st := genesis("album", uint64(w*100+i), map[string]value.Value{"year": value.Int(int64(i))})
				if err := h.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: st}}}); err != nil {
					t.Errorf("Apply: %v", err)
				}
				if err := h.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if err := root.Close(); err != nil {
		t.Fatal(err)
	}
	e, err := bolt.Open(ctx, path, bolt.WithLockTimeout(10*time.Millisecond))
	if err != nil {
		t.Fatalf("Open after every handle closed: %v", err)
	}
	defer e.Close()
	c, err := e.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	states, err := c.FetchStates(ctx, mustBound(t, "true"))
	if err != nil || len(states) != 40 {
		t.Errorf("after reopening: %d albums, %v; want 40", len(states), err)
	}
}
