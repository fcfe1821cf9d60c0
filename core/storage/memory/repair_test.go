package memory

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
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
