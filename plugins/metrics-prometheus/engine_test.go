package prommetrics

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// TestWithCaps_ExactlyTheSet: for every set of optional interfaces an
// engine can have, the engine withCaps makes implements exactly those.
func TestWithCaps_ExactlyTheSet(t *testing.T) {
	e := &engine{}
	for c := caps(0); c <= allCaps; c++ {
		if c&capsKeeper != 0 && c&capsClearer == 0 {
			continue // a KeepingClearer is a Clearer: never asked for
		}
		if got := capsOf(withCaps(e, c)); got != c {
			t.Fatalf("withCaps(%08b) implements %08b", c, got)
		}
	}
}

// timed is how many calls of op m's storage histogram holds.
func timed(t *testing.T, m *Metrics, op string) uint64 {
	t.Helper()
	var d dto.Metric
	if err := m.storageSeconds.WithLabelValues(op).(prometheus.Metric).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}

// healthy is an engine with only the base methods and Health.
type healthy struct {
	storage.Engine
	err error
}

func (h healthy) Health(context.Context) error { return h.err }

// TestInstrumentEngine_ForwardsWhatTheInnerEngineHas wraps engines with
// different optional interfaces and checks the wrapper has the same ones,
// forwards their calls, and times them.
func TestInstrumentEngine_ForwardsWhatTheInnerEngineHas(t *testing.T) {
	ctx := context.Background()
	mem := memory.New()
	for _, tc := range []struct {
		name  string
		inner storage.Engine
	}{
		{"memory", mem},
		{"base only", struct{ storage.Engine }{memory.New()}},
		{"base and health", healthy{Engine: struct{ storage.Engine }{memory.New()}, err: storage.ErrUnavailable}},
		{"indexer and feed", struct {
			storage.Engine
			storage.Indexer
			storage.ChangeFeed
		}{mem, mem, mem}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(nil)
			w := m.InstrumentEngine(tc.inner)
			if got, want := capsOf(w), capsOf(tc.inner); got != want {
				t.Fatalf("wrapper implements %08b, inner %08b", got, want)
			}
			if u, ok := w.(interface{ Unwrap() storage.Engine }); !ok || u.Unwrap() != tc.inner {
				t.Fatalf("Unwrap does not return the inner engine")
			}
			coll, err := w.Collection(ctx, "album")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := coll.GetState(ctx, id.EntityID{}); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("GetState: %v", err)
			}
			sel, err := query.ParseBound("true")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := coll.FetchStates(ctx, sel); err != nil {
				t.Fatal(err)
			}
			if got := testutil.ToFloat64(m.storageErrors.WithLabelValues("get_state")); got != 0 {
				t.Errorf("a state not found counted as an error (%v)", got)
			}
			for _, op := range []string{"collection", "get_state", "fetch_states"} {
				if got := timed(t, m, op); got != 1 {
					t.Errorf("%s timed %d times, want 1", op, got)
				}
			}
			if ix, ok := w.(storage.Indexer); ok {
				if err := ix.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
					t.Fatal(err)
				}
				if got := timed(t, m, "declare_index"); got != 1 {
					t.Errorf("declare_index timed %d times, want 1", got)
				}
			}
			if f, ok := w.(storage.ChangeFeed); ok {
				if _, err := f.FeedHead(ctx); err != nil {
					t.Fatal(err)
				}
				if got := timed(t, m, "feed_head"); got != 1 {
					t.Errorf("feed_head timed %d times, want 1", got)
				}
			}
			if h, ok := w.(storage.Healther); ok {
				if err := h.Health(ctx); !errors.Is(err, storage.ErrUnavailable) {
					t.Fatalf("Health: %v", err)
				}
				if got := testutil.ToFloat64(m.storageErrors.WithLabelValues("health")); got != 1 {
					t.Errorf("health errors = %v, want 1", got)
				}
			}
		})
	}
}

// aggEngine is a memory engine whose collections compute aggregates (they
// answer one group counting 7, or ErrNotPushedDown for a spec with
// GroupBy).
type aggEngine struct{ *memory.Engine }

type aggColl struct{ storage.Collection }

func (e aggEngine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	c, err := e.Engine.Collection(ctx, name)
	return aggColl{c}, err
}

func (aggColl) Aggregate(_ context.Context, _ *query.Bound, spec storage.AggregateSpec) ([]storage.GroupResult, error) {
	if len(spec.GroupBy) > 0 {
		return nil, storage.ErrNotPushedDown
	}
	return []storage.GroupResult{{Count: 7}}, nil
}

// TestInstrumentEngine_CollectionsKeepAggregator: a collection is a
// storage.Aggregator through the wrapper exactly when the inner one is, and
// its aggregates are timed (not pushing one down is not a failure).
func TestInstrumentEngine_CollectionsKeepAggregator(t *testing.T) {
	ctx := context.Background()
	m := New(nil)
	plain, err := m.InstrumentEngine(memory.New()).Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.(storage.Aggregator); ok {
		t.Fatal("a memory collection became an Aggregator")
	}
	c, err := m.InstrumentEngine(aggEngine{memory.New()}).Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	ag, ok := c.(storage.Aggregator)
	if !ok {
		t.Fatal("the Aggregator was hidden by the wrapper")
	}
	sel, err := query.ParseBound("true")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ag.Aggregate(ctx, sel, storage.AggregateSpec{})
	if err != nil || len(res) != 1 || res[0].Count != 7 {
		t.Fatalf("Aggregate: %v %v", res, err)
	}
	if _, err := ag.Aggregate(ctx, sel, storage.AggregateSpec{GroupBy: []string{"year"}}); !errors.Is(err, storage.ErrNotPushedDown) {
		t.Fatalf("Aggregate by year: %v", err)
	}
	if got := timed(t, m, "aggregate"); got != 2 {
		t.Errorf("aggregate timed %d times, want 2", got)
	}
	if got := testutil.ToFloat64(m.storageErrors.WithLabelValues("aggregate")); got != 0 {
		t.Errorf("aggregate errors = %v, want 0", got)
	}
}

// sharedAggEngine is a memory engine whose collections both share their
// stored states and compute aggregates.
type sharedAggEngine struct{ *memory.Engine }

type sharedAggColl struct {
	storage.Collection
	storage.SharedReader
}

func (e sharedAggEngine) Collection(ctx context.Context, name string) (storage.Collection, error) {
	c, err := e.Engine.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	return sharedAggColl{c, c.(storage.SharedReader)}, nil
}

func (sharedAggColl) Aggregate(context.Context, *query.Bound, storage.AggregateSpec) ([]storage.GroupResult, error) {
	return []storage.GroupResult{{Count: 7}}, nil
}

// TestInstrumentEngine_CollectionsKeepSharedReader: a collection is a
// storage.SharedReader through the wrapper exactly when the inner one is
// (alone or beside storage.Aggregator), its shared reads return the stored
// state and are timed as get_state and fetch_states.
func TestInstrumentEngine_CollectionsKeepSharedReader(t *testing.T) {
	ctx := context.Background()
	eid := id.EntityID{7}
	st := entity.State{ID: eid, Collection: "album", Head: event.Clock{id.EventID{1}}, Values: value.FieldsOf(map[string]value.Value{"name": value.String("Blue")})}
	for _, tc := range []struct {
		name         string
		inner        storage.Engine
		shared, aggr bool
	}{
		{"memory", memory.New(), true, false},
		{"aggregator", aggEngine{memory.New()}, false, true},
		{"both", sharedAggEngine{memory.New()}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(nil)
			w := m.InstrumentEngine(tc.inner)
			if err := w.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: st.Clone()}}}); err != nil {
				t.Fatal(err)
			}
			c, err := w.Collection(ctx, "album")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := c.(storage.Aggregator); ok != tc.aggr {
				t.Fatalf("Aggregator = %v, want %v", ok, tc.aggr)
			}
			sr, ok := c.(storage.SharedReader)
			if ok != tc.shared {
				t.Fatalf("SharedReader = %v, want %v", ok, tc.shared)
			}
			if !ok {
				return
			}
			got, err := sr.GetStateShared(ctx, eid)
			if err != nil || got.ID != eid || got.Values.Get("name") != value.String("Blue") {
				t.Fatalf("GetStateShared: %+v, %v", got, err)
			}
			sel, err := query.ParseBound("name = 'Blue'")
			if err != nil {
				t.Fatal(err)
			}
			sts, err := sr.FetchStatesShared(ctx, sel)
			if err != nil || len(sts) != 1 || sts[0].ID != eid {
				t.Fatalf("FetchStatesShared: %+v, %v", sts, err)
			}
			if _, err := sr.GetStateShared(ctx, id.EntityID{8}); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("GetStateShared of an absent entity: %v", err)
			}
			if got := timed(t, m, "get_state"); got != 2 {
				t.Errorf("get_state timed %d times, want 2", got)
			}
			if got := timed(t, m, "fetch_states"); got != 1 {
				t.Errorf("fetch_states timed %d times, want 1", got)
			}
		})
	}
}

// albumEngine is a kv engine holding one album, eid {7} named "Blue".
func albumEngine(t *testing.T) (storage.Engine, id.EntityID) {
	t.Helper()
	ctx := context.Background()
	e, err := kv.New(ctx, kv.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	eid := id.EntityID{7}
	st := entity.State{ID: eid, Collection: "album", Head: event.Clock{id.EventID{1}}, Values: value.FieldsOf(map[string]value.Value{"name": value.String("Blue")})}
	if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: st}}}); err != nil {
		t.Fatal(err)
	}
	return e, eid
}

// wantManyReader fails unless c is a storage.ManyReader that reads the
// album of albumEngine and a missing entity in one step.
func wantManyReader(t *testing.T, c storage.Collection, eid id.EntityID) {
	t.Helper()
	mr, ok := c.(storage.ManyReader)
	if !ok {
		t.Fatalf("the instrumented collection %T is not a storage.ManyReader", c)
	}
	got, err := mr.GetStatesShared(context.Background(), []id.EntityID{{9}, eid})
	if err != nil || len(got) != 2 || !got[0].ID.IsZero() || got[1].ID != eid || got[1].Values.Get("name") != value.String("Blue") {
		t.Fatalf("GetStatesShared = %+v, %v", got, err)
	}
}

// A kv engine's collections keep storage.ManyReader through the
// instrumentation, so a bulk commit on `ankurah serve` (which instruments
// its engine) still reads its lookups in one step.
func TestInstrumentEngine_KVCollectionsKeepManyReader(t *testing.T) {
	inner, eid := albumEngine(t)
	w := New(nil).InstrumentEngine(inner)
	c, err := w.Collection(context.Background(), "album")
	if err != nil {
		t.Fatal(err)
	}
	wantManyReader(t, c, eid)
}

// aggManyKV is a kv collection that also answers aggregates (as
// PostgreSQL's collections do: an Aggregator and a ManyReader).
type aggManyKV struct {
	storage.Collection
}

func (c aggManyKV) Aggregate(context.Context, *query.Bound, storage.AggregateSpec) ([]storage.GroupResult, error) {
	return nil, storage.ErrNotPushedDown
}

func (c aggManyKV) GetStatesShared(ctx context.Context, ids []id.EntityID) ([]entity.State, error) {
	return c.Collection.(storage.ManyReader).GetStatesShared(ctx, ids)
}

// A collection that is both an Aggregator and a ManyReader (PostgreSQL's)
// keeps both through the instrumentation: `ankurah serve` on PostgreSQL
// read a bulk commit's entities one query each without it.
func TestInstrumentEngine_AggregatorKeepsManyReader(t *testing.T) {
	inner, eid := albumEngine(t)
	kc, err := inner.Collection(context.Background(), "album")
	if err != nil {
		t.Fatal(err)
	}
	c := New(nil).newEngine(inner).wrap(aggManyKV{kc})
	if _, ok := c.(storage.Aggregator); !ok {
		t.Fatal("the instrumented collection is not a storage.Aggregator")
	}
	wantManyReader(t, c, eid)
}

// TestWithCollCaps_ExactlyTheSet: for every set of optional collection
// interfaces, the collection withCollCaps makes implements exactly those.
func TestWithCollCaps_ExactlyTheSet(t *testing.T) {
	c := &collection{}
	for k := collCaps(0); k <= allCollCaps; k++ {
		got := withCollCaps(c, k)
		var has collCaps
		for _, x := range []struct {
			ok  bool
			cap collCaps
		}{
			{isColl[storage.Aggregator](got), collsAggregator},
			{isColl[storage.SharedReader](got), collsShared},
			{isColl[storage.ManyReader](got), collsMany},
			{isColl[storage.Traverser](got), collsTraverser},
		} {
			if x.ok {
				has |= x.cap
			}
		}
		if has != k {
			t.Fatalf("withCollCaps(%04b) implements %04b", k, has)
		}
	}
}

func isColl[T any](c storage.Collection) bool {
	_, ok := c.(T)
	return ok
}

// traversingKV is a kv collection that evaluates traversals itself (as
// PostgreSQL's does), answering with the state of one entity.
type traversingKV struct {
	storage.Collection
	eid   id.EntityID
	calls *int
}

func (c traversingKV) FetchTraversal(ctx context.Context, sel *storage.TraversalSelection) ([]entity.State, error) {
	*c.calls++
	st, err := c.GetState(ctx, c.eid)
	return []entity.State{st}, err
}

// A collection that evaluates traversals itself (PostgreSQL's joins) stays
// a storage.Traverser through the instrumentation, and its calls are timed
// as fetch_traversal: `ankurah serve`, which instruments every engine,
// resolved every traversal on the node without it.
func TestInstrumentEngine_CollectionKeepsTraverser(t *testing.T) {
	inner, eid := albumEngine(t)
	kc, err := inner.Collection(context.Background(), "album")
	if err != nil {
		t.Fatal(err)
	}
	m := New(nil)
	calls := 0
	c := m.newEngine(inner).wrap(traversingKV{kc, eid, &calls})
	tv, ok := c.(storage.Traverser)
	if !ok {
		t.Fatal("the instrumented collection is not a storage.Traverser")
	}
	sts, err := tv.FetchTraversal(context.Background(), &storage.TraversalSelection{Bound: &query.Bound{}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(sts) != 1 || sts[0].ID != eid {
		t.Fatalf("FetchTraversal: %d calls to the inner collection, states %v; want 1 call and the album", calls, sts)
	}
	if got := timed(t, m, "fetch_traversal"); got != 1 {
		t.Errorf("fetch_traversal timed %d times, want 1", got)
	}
}

// The memory engine is a storage.KeepingClearer (an ephemeral node drops
// its cache through it and keeps its outbox whole); so is what
// InstrumentEngine makes of it, and ClearKeeping is timed as clear.
func TestInstrumentEngine_KeepsKeepingClearer(t *testing.T) {
	ctx := context.Background()
	inner := memory.New()
	m := New(nil)
	e := m.InstrumentEngine(inner)
	kc, ok := e.(storage.KeepingClearer)
	if !ok {
		t.Fatal("the instrumented memory engine is not a storage.KeepingClearer")
	}
	if err := kc.ClearKeeping(ctx, "outbox"); err != nil {
		t.Fatal(err)
	}
	if got := timed(t, m, "clear"); got != 1 {
		t.Errorf("clear timed %d times, want 1", got)
	}
}

// The memory engine's collections both share their states and read many in
// one step: through the instrumentation they are still both, so a bulk
// commit on `ankurah serve --storage memory://` reads its lookups under
// one lock.
func TestInstrumentEngine_MemoryCollectionsKeepSharedAndManyReader(t *testing.T) {
	ctx := context.Background()
	inner := memory.New()
	t.Cleanup(func() { inner.Close() })
	eid := id.EntityID{7}
	st := entity.State{ID: eid, Collection: "album", Head: event.Clock{id.EventID{1}}, Values: value.FieldsOf(map[string]value.Value{"name": value.String("Blue")})}
	if err := inner.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: st}}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(nil).InstrumentEngine(inner).Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(storage.SharedReader); !ok {
		t.Fatalf("the instrumented memory collection %T is not a storage.SharedReader", c)
	}
	wantManyReader(t, c, eid)
}
