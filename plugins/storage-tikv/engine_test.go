package tikv_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

const coll = "album"

func genesis(label string) event.Event {
	sum := sha256.Sum256([]byte(label))
	return event.NewGenesis(coll, map[string][]byte{"lww": []byte("create " + label)}, sum[:event.NonceSize], 1_700_000_000_000)
}

func edit(parent event.Event, label string) event.Event {
	return event.Event{
		Collection: coll,
		Entity:     parent.Entity,
		Parent:     event.NewClock(parent.ID()),
		Operations: map[string][]byte{"lww": []byte("edit " + label)},
	}
}

func stateOf(ev event.Event, values map[string]value.Value) entity.State {
	return entity.State{
		ID:         ev.Entity,
		Collection: coll,
		Head:       event.NewClock(ev.ID()),
		Backends:   entity.BackendsOf(map[string][]byte{"lww": []byte(ev.ID().String())}),
		Values:     value.FieldsOf(values),
	}
}

// create returns a batch creating one entity per label with values(i).
func create(n int, label string, values func(i int) map[string]value.Value) (*storage.Batch, []id.EntityID) {
	b := &storage.Batch{}
	ids := make([]id.EntityID, n)
	for i := range n {
		g := genesis(fmt.Sprintf("%s-%d", label, i))
		ids[i] = g.Entity
		b.Events = append(b.Events, g)
		b.States = append(b.States, storage.StateWrite{State: stateOf(g, values(i))})
	}
	return b, ids
}

func fetch(t *testing.T, c storage.Collection, q string, args ...any) []id.EntityID {
	t.Helper()
	sel, err := query.Parse(q)
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	b, err := sel.Bind(args...)
	if err != nil {
		t.Fatalf("bind %q: %v", q, err)
	}
	states, err := c.FetchStates(context.Background(), b)
	if err != nil {
		t.Fatalf("FetchStates(%q): %v", q, err)
	}
	out := make([]id.EntityID, len(states))
	for i, s := range states {
		out[i] = s.ID
	}
	return out
}

func collection(t *testing.T, e storage.Engine) storage.Collection {
	t.Helper()
	c, err := e.Collection(context.Background(), coll)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRangeQuery_SpansManyScanBatches(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, tikv.WithScanBatchSize(4))
	if err := e.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "n"}); err != nil {
		t.Fatal(err)
	}
	const n = 50 // more than 12 batches of 4
	b, ids := create(n, "range", func(i int) map[string]value.Value {
		return map[string]value.Value{"n": value.Int(int64(i)), "odd": value.Bool(i%2 == 1)}
	})
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	c := collection(t, e)
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	sortedIDs := slices.Clone(ids)
	slices.SortFunc(sortedIDs, func(a, b id.EntityID) int { return a.Compare(b) })
	tests := []struct {
		query string
		want  []id.EntityID
	}{
		{"n >= 5 AND n < 45 ORDER BY n", ids[5:45]},
		{"n >= 5 AND n < 45 ORDER BY n DESC", rev[5:45]},
		{"n > 2 ORDER BY n DESC LIMIT 7", rev[:7]},
		{"n < 40 ORDER BY n LIMIT 9", ids[:9]},
		{"true ORDER BY n DESC LIMIT 30", rev[:30]},
		{"n IN (49, 0, 17, 33) ORDER BY n DESC", []id.EntityID{ids[49], ids[33], ids[17], ids[0]}},
		{"true", sortedIDs},
		{"true LIMIT 6", sortedIDs[:6]},
		{"odd = true AND n >= 40 ORDER BY n", []id.EntityID{ids[41], ids[43], ids[45], ids[47], ids[49]}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := fetch(t, c, tt.query); !slices.Equal(got, tt.want) {
				t.Errorf("got %d ids %v\nwant %d ids %v", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

func TestApply_TwoEnginesRacingOnOneEntity(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	a := newEngine(t, tikv.WithKeyPrefix(prefix))
	b := newEngine(t, tikv.WithKeyPrefix(prefix))
	for _, e := range []*tikv.Engine{a, b} {
		if err := e.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "title"}); err != nil {
			t.Fatal(err)
		}
	}
	g := genesis("raced")
	if err := a.Apply(ctx, &storage.Batch{Events: []event.Event{g}, States: []storage.StateWrite{{State: stateOf(g, map[string]value.Value{"title": value.String("start")})}}}); err != nil {
		t.Fatal(err)
	}
	// Both engines update from the same head; exactly one may win.
	edits := []event.Event{edit(g, "a"), edit(g, "b")}
	titles := []string{"from a", "from b"}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, e := range []*tikv.Engine{a, b} {
		wg.Go(func() {
			errs[i] = e.Apply(ctx, &storage.Batch{
				Events: []event.Event{edits[i]},
				States: []storage.StateWrite{{State: stateOf(edits[i], map[string]value.Value{"title": value.String(titles[i])}), Expected: event.NewClock(g.ID())}},
			})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("both engines committed an update on the same head")
			}
			winner = i
		case !errors.Is(err, storage.ErrConflict):
			t.Fatalf("engine %d: %v, want nil or storage.ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("neither engine committed: %v", errs)
	}
	for _, e := range []*tikv.Engine{a, b} {
		c := collection(t, e)
		s, err := c.GetState(ctx, g.Entity)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Head.Equal(event.NewClock(edits[winner].ID())) {
			t.Errorf("head %v, want the winner's %v", s.Head, edits[winner].ID())
		}
		// The index moved with the winner's state only.
		if got := fetch(t, c, "title = ?", titles[winner]); !slices.Equal(got, []id.EntityID{g.Entity}) {
			t.Errorf("title = winner: %v", got)
		}
		for _, q := range []string{"title = 'start'", "title = '" + titles[1-winner] + "'"} {
			if got := fetch(t, c, q); len(got) != 0 {
				t.Errorf("%s: %v, want nothing", q, got)
			}
		}
	}
}

func TestApply_RetriesTiKVWriteConflicts(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	setup := newEngine(t, tikv.WithKeyPrefix(prefix))
	seed := func(label string) event.Event {
		g := genesis(label)
		if err := setup.Apply(ctx, &storage.Batch{Events: []event.Event{g}, States: []storage.StateWrite{{State: stateOf(g, nil)}}}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	// touch commits a rewrite of the state's keys with their current value:
	// a TiKV write conflict for the engine's transaction, no change of head.
	touch := func() {
		c := client(t)
		txn, err := c.Begin()
		if err != nil {
			t.Error(err)
			return
		}
		it, err := txn.Iter([]byte(prefix+"\x00s"), []byte(prefix+"\x00t"))
		if err != nil {
			t.Error(err)
			return
		}
		for it.Valid() {
			_ = txn.Set(slices.Clone(it.Key()), slices.Clone(it.Value()))
			_ = it.Next()
		}
		it.Close()
		if err := txn.Commit(ctx); err != nil {
			t.Error(err)
		}
	}
	update := func(e *tikv.Engine, g event.Event, label string) error {
		ev := edit(g, label)
		return e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: stateOf(ev, nil), Expected: event.NewClock(g.ID())}}})
	}

	t.Run("a conflict that clears is retried", func(t *testing.T) {
		var calls atomic.Int32
		e := newEngine(t, tikv.WithKeyPrefix(prefix), tikv.WithBeforeCommit(func() {
			if calls.Add(1) == 1 {
				touch()
			}
		}))
		calls.Store(0)
		if err := update(e, seed("clears"), "once"); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if calls.Load() != 2 {
			t.Errorf("%d commit attempts, want 2", calls.Load())
		}
	})
	t.Run("a conflict that persists is ErrContention and writes nothing", func(t *testing.T) {
		var calls atomic.Int32
		e := newEngine(t, tikv.WithKeyPrefix(prefix), tikv.WithMaxAttempts(3), tikv.WithBeforeCommit(func() {
			if calls.Add(1) > 0 {
				touch()
			}
		}))
		calls.Store(0)
		g := seed("persists")
		s0, err := collection(t, e).GetState(ctx, g.Entity)
		if err != nil {
			t.Fatal(err)
		}
		err = update(e, g, "never")
		if !errors.Is(err, tikv.ErrContention) {
			t.Fatalf("Apply: %v, want ErrContention", err)
		}
		if calls.Load() != 3 {
			t.Errorf("%d commit attempts, want 3", calls.Load())
		}
		s1, err := collection(t, e).GetState(ctx, g.Entity)
		if err != nil {
			t.Fatal(err)
		}
		if !s1.Head.Equal(s0.Head) {
			t.Errorf("head moved from %v to %v", s0.Head, s1.Head)
		}
	})
}

func TestIndex_DeclaredByOneEngineIsMaintainedByAnother(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	a := newEngine(t, tikv.WithKeyPrefix(prefix))
	b := newEngine(t, tikv.WithKeyPrefix(prefix), tikv.WithScanBatchSize(2))
	batch, ids := create(5, "decl", func(i int) map[string]value.Value {
		return map[string]value.Value{"year": value.Int(int64(2000 + i))}
	})
	if err := b.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := a.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "year"}); err != nil {
		t.Fatal(err)
	}
	// b learns of the index from the cluster, not from a.
	g := genesis("decl-late")
	if err := b.Apply(ctx, &storage.Batch{Events: []event.Event{g}, States: []storage.StateWrite{{State: stateOf(g, map[string]value.Value{"year": value.Int(2003)})}}}); err != nil {
		t.Fatal(err)
	}
	want := []id.EntityID{ids[3], g.Entity}
	slices.SortFunc(want, func(x, y id.EntityID) int { return x.Compare(y) })
	for name, e := range map[string]*tikv.Engine{"a": a, "b": b} {
		if got := fetch(t, collection(t, e), "year = 2003"); !slices.Equal(got, want) {
			t.Errorf("engine %s: year = 2003 -> %v, want %v", name, got, want)
		}
	}
	if err := b.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "year"}); err != nil {
		t.Errorf("declaring an existing index: %v", err)
	}
}

func TestNew_RefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opt  tikv.Option
	}{
		{"prefix with NUL", tikv.WithKeyPrefix("a\x00b")},
		{"overlong prefix", tikv.WithKeyPrefix(strings.Repeat("p", 1025))},
		{"zero scan batch", tikv.WithScanBatchSize(0)},
		{"zero attempts", tikv.WithMaxAttempts(0)},
		{"feed retention shorter than twice the commit window", tikv.WithFeedRetention(time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tikv.New(ctx, client(t), tt.opt)
			if !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("New: %v, want storage.ErrInvalid", err)
			}
		})
	}
}

func TestNew_RefusesNewerOrForeignFormat(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		stored string
		ok     bool
	}{
		{fmt.Sprint(tikv.FormatVersion), true},
		{fmt.Sprint(tikv.FormatVersion + 1), false},
		{"not a version", false},
	}
	for _, tt := range tests {
		t.Run(tt.stored, func(t *testing.T) {
			prefix := uniquePrefix(t)
			c := client(t)
			txn, err := c.Begin()
			if err != nil {
				t.Fatal(err)
			}
			_ = txn.Set([]byte(prefix+"\x00v"), []byte(tt.stored))
			if err := txn.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			e, err := tikv.New(ctx, c, tikv.WithKeyPrefix(prefix))
			if tt.ok {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				_ = e.Close()
				return
			}
			if !errors.Is(err, storage.ErrFormat) {
				t.Fatalf("New: %v, want storage.ErrFormat", err)
			}
		})
	}
}

func TestKeyPrefix_SeparatesDeployments(t *testing.T) {
	ctx := context.Background()
	// "app" and "app2": one prefix is a prefix of the other's text.
	p := uniquePrefix(t)
	a := newEngine(t, tikv.WithKeyPrefix(p))
	b := newEngine(t, tikv.WithKeyPrefix(p+"2"))
	batch, ids := create(2, "prefix", func(int) map[string]value.Value { return nil })
	if err := a.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, collection(t, a), "true"); len(got) != 2 {
		t.Errorf("own deployment sees %d entities, want 2", len(got))
	}
	if got := fetch(t, collection(t, b), "true"); len(got) != 0 {
		t.Errorf("other deployment sees %d entities, want 0", len(got))
	}
	if _, err := collection(t, b).GetState(ctx, ids[0]); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("other deployment GetState: %v, want ErrNotFound", err)
	}
}

func TestIndex_LongValuesKeepKeysShortAndAnswersExact(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	e := newEngine(t, tikv.WithKeyPrefix(prefix), tikv.WithScanBatchSize(2))
	if err := e.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "text"}); err != nil {
		t.Fatal(err)
	}
	// Five values that agree on their first 5,000 bytes: their index keys
	// are cut to the same bytes, so order and equality come from the states.
	common := strings.Repeat("ünïcode ", 625)
	texts := []string{common + "a", common + "b", common + "bb", common + "c", "short"} // "short" sorts first: 's' < 'ü'
	b, ids := create(len(texts), "long", func(i int) map[string]value.Value {
		return map[string]value.Value{"text": value.String(texts[i])}
	})
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	c := collection(t, e)
	tests := []struct {
		query string
		args  []any
		want  []id.EntityID
	}{
		{"text = ?", []any{texts[2]}, ids[2:3]},
		{"text > ? ORDER BY text", []any{texts[1]}, []id.EntityID{ids[2], ids[3]}},
		{"text < ? ORDER BY text DESC", []any{texts[3]}, []id.EntityID{ids[2], ids[1], ids[0], ids[4]}},
		{"text >= ? AND text <= ? ORDER BY text DESC LIMIT 2", []any{texts[0], texts[3]}, []id.EntityID{ids[3], ids[2]}},
		{"text LIKE ? ORDER BY text LIMIT 3", []any{common + "%"}, ids[:3]},
		{"true ORDER BY text DESC LIMIT 1", nil, ids[3:4]},
		{"true ORDER BY text LIMIT 2", nil, []id.EntityID{ids[4], ids[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := fetch(t, c, tt.query, tt.args...); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// TiKV refuses keys over 8 KiB; index keys stay well under it.
	txn, err := client(t).Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Rollback()
	it, err := txn.Iter([]byte(prefix+"\x00"), []byte(prefix+"\x01"))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for it.Valid() {
		if len(it.Key()) > 2048 {
			t.Errorf("a key of %d bytes", len(it.Key()))
		}
		_ = it.Next()
	}
}

func TestIndex_BuiltWhileAnotherEngineWrites(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	writer := newEngine(t, tikv.WithKeyPrefix(prefix))
	builder := newEngine(t, tikv.WithKeyPrefix(prefix), tikv.WithScanBatchSize(3))
	const n, rounds = 40, 60
	b, ids := create(n, "build", func(i int) map[string]value.Value {
		return map[string]value.Value{"v": value.Int(int64(i))}
	})
	if err := writer.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	heads := make([]event.Event, n)
	values := make([]int64, n)
	for i := range n {
		heads[i], values[i] = b.Events[i], int64(i)
	}
	// Whatever the interleaving, the index must end up holding exactly the
	// final values: writes before, during and after the build.
	done := make(chan error, 1)
	go func() {
		done <- builder.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "v"})
	}()
	for r := range rounds {
		i := (r * 7) % n
		ev := edit(heads[i], fmt.Sprint(r))
		v := int64(1000 + r)
		err := writer.Apply(ctx, &storage.Batch{
			Events: []event.Event{ev},
			States: []storage.StateWrite{{State: stateOf(ev, map[string]value.Value{"v": value.Int(v)}), Expected: event.NewClock(heads[i].ID())}},
		})
		if err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		heads[i], values[i] = ev, v
	}
	if err := <-done; err != nil {
		t.Fatalf("DeclareIndex: %v", err)
	}
	order := slices.Clone(ids)
	slices.SortStableFunc(order, func(x, y id.EntityID) int {
		vx, vy := values[slices.Index(ids, x)], values[slices.Index(ids, y)]
		if vx != vy {
			return int(vx - vy)
		}
		return x.Compare(y)
	})
	for name, e := range map[string]*tikv.Engine{"writer": writer, "builder": builder} {
		c := collection(t, e)
		if got := fetch(t, c, "v >= 0 ORDER BY v"); !slices.Equal(got, order) {
			t.Errorf("%s: index scan %v\nwant %v", name, got, order)
		}
		for i := range n {
			if got := fetch(t, c, "v = ?", values[i]); !slices.Equal(got, ids[i:i+1]) {
				t.Errorf("%s: v = %d -> %v, want %v", name, values[i], got, ids[i])
			}
		}
	}
}
