package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// The behaviour every engine shares is tested by conformance/storagetest
// (conformance/storagetest/memory_test.go); these tests cover what is
// particular to this engine.

func genesis(coll, label string) event.Event {
	nonce := make([]byte, event.NonceSize)
	copy(nonce, label)
	return event.NewGenesis(coll, map[string][]byte{"lww": []byte(label)}, nonce, 1)
}

func state(ev event.Event, n int64) entity.State {
	return entity.State{ID: ev.Entity, Collection: ev.Collection, Head: event.NewClock(ev.ID()),
		Values: value.FieldsOf(map[string]value.Value{"n": value.Int(n)})}
}

func TestDeclareIndex_RecordsEachIndexOnce(t *testing.T) {
	ctx := context.Background()
	e := New()
	for _, ix := range []storage.Index{{Collection: "a", Property: "x"}, {Collection: "a", Property: "y"}, {Collection: "a", Property: "x"}} {
		if err := e.DeclareIndex(ctx, ix); err != nil {
			t.Fatal(err)
		}
	}
	want := []storage.Index{{Collection: "a", Property: "x"}, {Collection: "a", Property: "y"}}
	if got := e.Indexes(); !slices.Equal(got, want) {
		t.Errorf("Indexes() = %v, want %v", got, want)
	}
	for _, bad := range []storage.Index{{Collection: "", Property: "x"}, {Collection: "a", Property: ""}} {
		if err := e.DeclareIndex(ctx, bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("DeclareIndex(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestApply_SameEntityTwiceInOneBatchChecksInOrder(t *testing.T) {
	ctx := context.Background()
	e := New()
	g := genesis("c", "a")
	next := event.Event{Collection: "c", Entity: g.Entity, Parent: event.NewClock(g.ID()), Operations: map[string][]byte{"lww": {1}}}
	s2 := state(next, 2)
	s2.ID = g.Entity
	ok := &storage.Batch{States: []storage.StateWrite{{State: state(g, 1)}, {State: s2, Expected: event.NewClock(g.ID())}}}
	if err := e.Apply(ctx, ok); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	c, _ := e.Collection(ctx, "c")
	got, err := c.GetState(ctx, g.Entity)
	if err != nil || got.Values.Get("n") != value.Int(2) {
		t.Fatalf("GetState = %v, %v; want n = 2", got.Values, err)
	}
	// The second write of one entity must expect the first one's head.
	h := genesis("c", "b")
	bad := &storage.Batch{States: []storage.StateWrite{{State: state(h, 1)}, {State: state(h, 2)}}}
	if err := e.Apply(ctx, bad); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Apply = %v, want ErrConflict", err)
	}
	if _, err := c.GetState(ctx, h.Entity); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetState after a refused batch = %v, want ErrNotFound", err)
	}
}

// In a batch of many states, too, the second write of an entity expects
// the first's head, and one id written in two collections is two entities
// (as an entity and its attribution record are).
func TestApply_SameEntityTwiceInALargeBatch(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{16, 24, 200} {
		build := func(secondExpects bool) *storage.Batch {
			b := &storage.Batch{}
			for i := range size - 3 {
				b.States = append(b.States, storage.StateWrite{State: state(genesis("c", fmt.Sprintf("e%d-%d", size, i)), 1)})
			}
			x := genesis("c", fmt.Sprint("x", size))
			first := state(x, 1)
			other := first // the same id in another collection
			other.Collection = "d"
			next := event.Event{Collection: "c", Entity: x.Entity, Parent: event.NewClock(x.ID()), Operations: map[string][]byte{"lww": {2}}}
			second := state(next, 2)
			second.ID = x.Entity
			var expected event.Clock
			if secondExpects {
				expected = first.Head
			}
			mid := len(b.States) / 2
			b.States = slices.Insert(b.States, mid, storage.StateWrite{State: first})
			b.States = append(b.States, storage.StateWrite{State: other}, storage.StateWrite{State: second, Expected: expected})
			return b
		}
		e := New()
		if err := e.Apply(ctx, build(false)); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("size %d: a second write expecting nothing: Apply = %v, want ErrConflict", size, err)
		}
		if err := e.Apply(ctx, build(true)); err != nil {
			t.Fatalf("size %d: Apply = %v", size, err)
		}
		x := genesis("c", fmt.Sprint("x", size))
		for coll, want := range map[string]int64{"c": 2, "d": 1} {
			c, _ := e.Collection(ctx, coll)
			got, err := c.GetState(ctx, x.Entity)
			if err != nil || got.Values.Get("n") != value.Int(want) {
				t.Errorf("size %d: %s: GetState = %v, %v; want n = %d", size, coll, got.Values, err, want)
			}
		}
	}
}

func TestApply_RefusesMalformedBatches(t *testing.T) {
	ctx := context.Background()
	g := genesis("c", "a")
	noColl := g
	noColl.Collection = ""
	noEntity := event.Event{Collection: "c", Parent: event.NewClock(g.ID())}
	unsorted := state(g, 1)
	unsorted.Head = event.Clock{g.ID(), g.ID()}
	badUTF8 := state(g, 1)
	badUTF8.Collection = "\xff"
	for name, b := range map[string]*storage.Batch{
		"event without collection":   {Events: []event.Event{noColl}},
		"event without entity":       {Events: []event.Event{noEntity}},
		"head with duplicates":       {States: []storage.StateWrite{{State: unsorted}}},
		"collection not UTF-8":       {States: []storage.StateWrite{{State: badUTF8}}},
		"expected head with repeats": {States: []storage.StateWrite{{State: state(g, 1), Expected: event.Clock{g.ID(), g.ID()}}}},
	} {
		e := New()
		if err := e.Apply(ctx, b); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: Apply = %v, want ErrInvalid", name, err)
		}
		c, _ := e.Collection(ctx, "c")
		if evs, _ := c.EntityEvents(ctx, g.Entity); len(evs) != 0 {
			t.Errorf("%s: a refused batch stored %d events", name, len(evs))
		}
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := New()
	if _, err := e.Collection(ctx, "c"); !errors.Is(err, context.Canceled) {
		t.Errorf("Collection = %v, want context.Canceled", err)
	}
	if err := e.Apply(ctx, &storage.Batch{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply = %v, want context.Canceled", err)
	}
}
