package memory

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

func TestLookupCollection_UnknownNamesCreateNothing(t *testing.T) {
	ctx := context.Background()
	e := New()
	for i := range 100 {
		if _, err := e.LookupCollection(ctx, fmt.Sprintf("nosuch%d", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LookupCollection of an unknown name: %v, want ErrNotFound", err)
		}
	}
	if n := len(e.colls); n != 0 {
		t.Errorf("%d collections after lookups of unknown names, want 0", n)
	}
	ev := genesis("album", "a")
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: state(ev, 1)}}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.LookupCollection(ctx, "album")
	if err != nil {
		t.Fatalf("LookupCollection of a written collection: %v", err)
	}
	if _, err := c.GetState(ctx, ev.Entity); err != nil {
		t.Errorf("GetState through the looked-up collection: %v", err)
	}
}

func TestRemoveRow_DropsIndexEntries(t *testing.T) {
	ctx := context.Background()
	e := New()
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "n"}); err != nil {
		t.Fatal(err)
	}
	ev := genesis("album", "a")
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: state(ev, 1)}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveRow(ctx, "album", "state", ev.Entity[:]); err != nil {
		t.Fatal(err)
	}
	if n := e.colls["album"].indexes["n"].len(); n != 0 {
		t.Errorf("index n holds %d entries after the state's removal, want 0", n)
	}
	evID := ev.ID()
	if err := e.RemoveRow(ctx, "album", "event", evID[:]); err != nil {
		t.Fatal(err)
	}
	if n := len(e.colls["album"].byEntity); n != 0 {
		t.Errorf("%d entities keep event links after removing their only event, want 0", n)
	}
}

// A removed state's slot is reused by the next new entity: the states
// around it, the reused one and a fetch of all of them stay exact, and an
// entity stored again replaces its own state only.
func TestRemoveRow_ReusedSlotKeepsOtherStates(t *testing.T) {
	ctx := context.Background()
	e := New()
	var evs []event.Event
	for i := range stateChunk + 3 { // past one chunk
		ev := genesis("album", fmt.Sprint("e", i))
		evs = append(evs, ev)
		if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: state(ev, int64(i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	gone := evs[1]
	if err := e.RemoveRow(ctx, "album", "state", gone.Entity[:]); err != nil {
		t.Fatal(err)
	}
	fresh := genesis("album", "fresh")
	if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: state(fresh, 1000)}}}); err != nil {
		t.Fatal(err)
	}
	again := state(evs[2], 2002)
	again.Head = event.NewClock(fresh.ID()) // any other head
	if err := e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: again, Expected: event.NewClock(evs[2].ID())}}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.LookupCollection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetState(ctx, gone.Entity); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetState of the removed entity: %v, want ErrNotFound", err)
	}
	want := map[string]int64{fresh.Entity.String(): 1000}
	for i, ev := range evs {
		if i != 1 {
			want[ev.Entity.String()] = int64(i)
		}
	}
	want[evs[2].Entity.String()] = 2002
	sel, err := query.ParseBound("true")
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.FetchStates(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("fetched %d states, want %d", len(all), len(want))
	}
	for _, s := range all {
		n, _ := s.Values.Get("n").AsInt()
		if w, ok := want[s.ID.String()]; !ok || w != n {
			t.Errorf("state %s has n = %d, want %d (stored: %v)", s.ID, n, w, ok)
		}
	}
}
