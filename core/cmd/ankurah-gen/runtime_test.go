package main

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/cmd/ankurah-gen/testdata/kinds"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// These tests run the generated code of testdata/kinds (a golden case, so
// always what the generator writes today) against a node on the memory engine.

func newContext(t *testing.T) (*core.Context, *memory.Engine) {
	t.Helper()
	engine := memory.New()
	node, err := core.NewNode(context.Background(), engine, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(); engine.Close() })
	return node.Context(nil), engine
}

func ptr[T any](v T) *T { return &v }

func fullRecord() kinds.Record {
	return kinds.Record{
		Title: "Origin of Symmetry", Genre: "rock", Live: true, Count: 1 << 40, Small: -7, Plays: 4000000000,
		Big: math.MaxInt64, Score: 9.5, Cover: []byte{0, 1, 2}, Thumb: kinds.Blob("png"),
		Label: id.EntityID{1, 2, 3}, Nick: ptr("OoS"), Rank: ptr(2), Parent: &id.EntityID{9},
		Meta:      kinds.Meta{Producer: "John Leckie", Tracks: 12, Tags: []string{"a", "b"}},
		MaybeMeta: &kinds.Meta{Producer: "David Bottrill"},
		Credits:   map[string]int{"bass": 1}, Tags: []string{"prog"},
		Released: time.Date(2001, 6, 18, 0, 0, 0, 0, time.UTC),
		Raw:      []byte(`{"k":[1,2]}`), Any: value.String("anything"),
	}
}

func create(t *testing.T, c *core.Context, recs ...kinds.Record) []id.EntityID {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	var muts []*kinds.RecordMut
	for _, r := range recs {
		m, err := kinds.Records.Create(ctx, trx, r)
		if err != nil {
			t.Fatal(err)
		}
		muts = append(muts, m)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	ids := make([]id.EntityID, len(muts))
	for i, m := range muts {
		ids[i] = m.ID()
		if ids[i].IsZero() {
			t.Fatal("a committed creation has no id")
		}
	}
	return ids
}

func TestGenerated_CreateThenGetRoundTripsEveryKind(t *testing.T) {
	c, _ := newContext(t)
	ctx := context.Background()
	for _, rec := range []kinds.Record{fullRecord(), {Title: "all zero and nil"}} {
		ids := create(t, c, rec)
		v, err := kinds.Records.Get(ctx, c, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Model(); !reflect.DeepEqual(got, rec) {
			t.Errorf("round trip:\n got %#v\nwant %#v", got, rec)
		}
		if v.ID() != ids[0] || v.Entity().Collection() != "record" {
			t.Errorf("view of %s is %s in %q", ids[0], v.ID(), v.Entity().Collection())
		}
	}
}

func TestGenerated_StorageFormOfFields(t *testing.T) {
	c, _ := newContext(t)
	ids := create(t, c, fullRecord())
	v, err := c.Get(context.Background(), kinds.Records.Name(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prop string
		want value.Value
	}{
		{"title", value.String("Origin of Symmetry")},
		{"genre", value.String("rock")},
		{"count", value.Int(1 << 40)},
		{"plays", value.Int(4000000000)},
		{"score", value.Float(9.5)},
		{"thumb", value.Bytes([]byte("png"))}, // a named byte slice stays bytes
		{"label", value.Ref(id.EntityID{1, 2, 3})},
		{"rank", value.Int(2)},
		{"meta", value.MustJSON(`{"producer":"John Leckie","tracks":12,"tags":["a","b"]}`)},
		{"maybe_meta", value.MustJSON(`{"producer":"David Bottrill","tags":null}`)},
		{"raw", value.MustJSON(`{"k":[1,2]}`)},
		{"any", value.String("anything")},
	}
	for _, tt := range tests {
		if got := v.Get(tt.prop); !value.Equal(got, tt.want) || got.Kind() != tt.want.Kind() {
			t.Errorf("%s stored as %#v, want %#v", tt.prop, got, tt.want)
		}
	}
}

func TestGenerated_NilPointersAreNull(t *testing.T) {
	c, _ := newContext(t)
	create(t, c, kinds.Record{Title: "no nick"}, kinds.Record{Title: "nick", Nick: ptr("n")})
	got, err := kinds.Records.Fetch(context.Background(), c, "nick IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Title() != "no nick" || got[0].Nick() != nil || got[0].Rank() != nil {
		t.Fatalf("nick IS NULL found %v", titles(got))
	}
}

func TestGenerated_FetchIsTypedAndOrdered(t *testing.T) {
	c, _ := newContext(t)
	create(t, c, kinds.Record{Title: "c", Count: 3}, kinds.Record{Title: "a", Count: 1}, kinds.Record{Title: "b", Count: 2})
	got, err := kinds.Records.Fetch(context.Background(), c, "count >= ? ORDER BY count DESC", 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"c", "b"}; !reflect.DeepEqual(titles(got), want) {
		t.Fatalf("got %v, want %v", titles(got), want)
	}
}

func TestGenerated_MutHandlesEditAndRead(t *testing.T) {
	c, _ := newContext(t)
	ctx := context.Background()
	ids := create(t, c, kinds.Record{Title: "before", Count: 1})
	trx := c.Begin()
	m, err := kinds.Records.Edit(ctx, trx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Title().Get(); got != "before" {
		t.Errorf("Title().Get() = %q before the edit", got)
	}
	for _, err := range []error{
		m.Title().Set("after"), m.Count().Set(m.Count().Get() + 41), m.Nick().Set(ptr("n")),
		m.Meta().Set(kinds.Meta{Producer: "p"}), m.Likes().Add(3), m.Likes().Add(4),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m.Title().Get() != "after" || m.Count().Get() != 42 || m.Likes().Value() != 7 {
		t.Errorf("the transaction does not see its own edits: %q %d %d", m.Title().Get(), m.Count().Get(), m.Likes().Value())
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := kinds.Records.Get(ctx, c, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if v.Title() != "after" || v.Count() != 42 || *v.Nick() != "n" || v.Meta().Producer != "p" || v.Likes().Value() != 7 {
		t.Errorf("after commit: %#v likes=%d", v.Model(), v.Likes().Value())
	}
	if m.Title().Set("late") == nil || m.Likes().Add(1) == nil {
		t.Error("handles of a committed transaction still accept writes")
	}
}

func TestGenerated_OtherTypesReadAsZero(t *testing.T) {
	c, _ := newContext(t)
	ctx := context.Background()
	trx := c.Begin()
	m, err := trx.Create(ctx, kinds.Records.Name())
	if err != nil {
		t.Fatal(err)
	}
	for prop, v := range map[string]any{"count": "not a number", "meta": "not json", "nick": 12, "maybe_meta": 1} {
		if err := m.Set(prop, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := kinds.Records.Get(ctx, c, m.ID())
	if err != nil {
		t.Fatal(err)
	}
	if v.Count() != 0 || !reflect.DeepEqual(v.Meta(), kinds.Meta{}) || v.Nick() != nil || v.MaybeMeta() != nil {
		t.Errorf("mistyped values should read as zero: %#v", v.Model())
	}
}

func TestGenerated_CreateRefusesUnstorableValues(t *testing.T) {
	c, _ := newContext(t)
	_, err := kinds.Records.Create(context.Background(), c.Begin(), kinds.Record{Big: math.MaxUint64})
	if !errors.Is(err, value.ErrUnsupported) {
		t.Fatalf("err = %v, want value.ErrUnsupported", err)
	}
}

func TestGenerated_DeleteRemovesFromReads(t *testing.T) {
	c, _ := newContext(t)
	ctx := context.Background()
	ids := create(t, c, kinds.Record{Title: "x"}, kinds.Record{Title: "y"})
	trx := c.Begin()
	m, err := kinds.Records.Edit(ctx, trx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := kinds.Records.Delete(ctx, trx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, eid := range ids {
		if _, err := kinds.Records.Get(ctx, c, eid); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get of a deleted record: %v", err)
		}
	}
}

func TestGenerated_LiveQueryReportsTypedChanges(t *testing.T) {
	c, _ := newContext(t)
	ctx := context.Background()
	ids := create(t, c, kinds.Record{Title: "on", Live: true}, kinds.Record{Title: "off"})
	lq, err := kinds.Records.Query(ctx, c, "live = true")
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	sets := make(chan kinds.RecordChangeSet, 16)
	unsubscribe := lq.Subscribe(func(cs kinds.RecordChangeSet) { sets <- cs })
	defer unsubscribe()
	expect := func(want ...string) {
		t.Helper()
		cs := <-sets
		var got []string
		for _, ch := range cs.Changes {
			got = append(got, ch.Kind.String()+" "+ch.Entity.Title())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("changes %v, want %v", got, want)
		}
	}
	expect("Initial on")

	trx := c.Begin()
	for i, live := range []bool{false, true} {
		m, err := kinds.Records.Edit(ctx, trx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Live().Set(live); err != nil {
			t.Fatal(err)
		}
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	cs := <-sets
	kinds := map[string]core.ChangeKind{}
	for _, ch := range cs.Changes {
		kinds[ch.Entity.Title()] = ch.Kind
	}
	if !reflect.DeepEqual(kinds, map[string]core.ChangeKind{"on": core.Remove, "off": core.Add}) {
		t.Fatalf("changes %v, want on removed and off added", kinds)
	}
	if got := titles(lq.Items()); !reflect.DeepEqual(got, []string{"off"}) {
		t.Errorf("Items() = %v", got)
	}
	if got := titles(lq.Signal().Get()); !reflect.DeepEqual(got, []string{"off"}) {
		t.Errorf("Signal().Get() = %v", got)
	}

	if err := lq.UpdateSelection(ctx, "title = ?", "on"); err != nil {
		t.Fatal(err)
	}
	cs = <-sets
	if got := titles(cs.Items); !reflect.DeepEqual(got, []string{"on"}) {
		t.Errorf("after UpdateSelection the items are %v", got)
	}
}

func TestGenerated_DeclaresIndexes(t *testing.T) {
	_, engine := newContext(t)
	if err := kinds.Records.DeclareIndexes(context.Background(), engine); err != nil {
		t.Fatal(err)
	}
	want := []storage.Index{{Collection: "record", Property: "title"}}
	if got := engine.Indexes(); !reflect.DeepEqual(got, want) {
		t.Errorf("declared %v, want %v", got, want)
	}
}

func titles(vs []*kinds.RecordView) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Title())
	}
	return out
}
