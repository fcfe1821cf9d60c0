package core_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

func restore(t testing.TB, c *core.Context, collection string, eid id.EntityID) {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	if _, err := trx.Restore(ctx, collection, eid); err != nil {
		t.Fatal(err)
	}
	must(t, trx.Commit(ctx))
}

func deleteEntity(t testing.TB, c *core.Context, collection string, eid id.EntityID) {
	t.Helper()
	ctx := context.Background()
	trx := c.Begin()
	must(t, trx.Delete(ctx, collection, eid))
	must(t, trx.Commit(ctx))
}

func TestRestore_BringsADeletedEntityBackWithItsIDValuesAndHistory(t *testing.T) {
	ctx := context.Background()
	server := newNode(t)
	client := newClient(t)
	link(t, server, client)
	c := client.Context(nil)
	eid := createAlbums(t, c, album{"Absolution", "Muse", 2003})[0]
	lq, err := server.Context(nil).Query(ctx, "album", "artist = 'Muse'")
	must(t, err)
	defer lq.Close()
	s := collect(lq)
	if got := kinds(s.next(t)); got != "[Initial:Absolution]" {
		t.Fatal(got)
	}

	deleteEntity(t, c, "album", eid)
	if got := kinds(s.next(t)); got != "[Remove:Absolution]" {
		t.Fatal(got)
	}
	if _, err := c.Begin().Edit(ctx, "album", eid); !errors.Is(err, core.ErrDeleted) {
		t.Fatalf("Edit of a deleted entity: %v", err)
	}
	// Restored from the client, through the server: back in the server's
	// live query with the same id and values.
	restore(t, c, "album", eid)
	cs := s.next(t)
	if got := kinds(cs); got != "[Add:Absolution]" {
		t.Fatal(got)
	}
	v, err := server.Context(nil).Get(ctx, "album", eid)
	must(t, err)
	if v.ID() != eid || v.Get("year") != value.Int(2003) || v.Get("artist") != value.String("Muse") {
		t.Fatalf("restored: %v %v", v.ID(), v.Values())
	}
	if _, deleted := v.Values()["_deleted"]; deleted {
		t.Fatal("the restored entity shows its tombstone")
	}
	// Its history is the creation, the delete and the restore, in one line.
	coll, err := server.Engine().Collection(ctx, "album")
	must(t, err)
	evs, err := coll.EntityEvents(ctx, eid)
	must(t, err)
	if len(evs) != 3 || len(v.Head()) != 1 {
		t.Fatalf("%d events, head %v", len(evs), v.Head())
	}
	// Restoring an entity that is not deleted changes nothing.
	trx := c.Begin()
	_, err = trx.Restore(ctx, "album", eid)
	must(t, err)
	must(t, trx.Commit(ctx))
	if evs, _ := coll.EntityEvents(ctx, eid); len(evs) != 3 {
		t.Fatalf("a restore of a live entity wrote an event: %d events", len(evs))
	}
	// A restore returns the entity for edits in the same transaction, and
	// an entity that never existed is not found.
	deleteEntity(t, c, "album", eid)
	trx = c.Begin()
	m, err := trx.Restore(ctx, "album", eid)
	must(t, err)
	must(t, m.Set("year", 2004))
	must(t, trx.Commit(ctx))
	if v, err := c.Get(ctx, "album", eid); err != nil || v.Get("year") != value.Int(2004) {
		t.Fatalf("restored and edited: %v %v", v, err)
	}
	if _, err := c.Begin().Restore(ctx, "album", id.EntityID{7}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("restore of nothing: %v", err)
	}
}

// A delete, an edit made concurrently with it, and a restore that saw the
// delete give one state on every replica, whatever order the events arrive
// in; a delete made after the restore wins over it.
func TestRestore_MergesDeterministically(t *testing.T) {
	ctx := context.Background()
	src := newNode(t)
	c := src.Context(nil)
	eid := createAlbums(t, c, album{"Origin of Symmetry", "Muse", 2001})[0]
	del := c.Begin()
	must(t, del.Delete(ctx, "album", eid))
	edit := c.Begin()
	m, err := edit.Edit(ctx, "album", eid)
	must(t, err)
	must(t, m.Set("name", "OoS"))
	must(t, del.Commit(ctx))
	must(t, edit.Commit(ctx)) // concurrent with the delete: the head is now both
	restore(t, c, "album", eid)

	check := func(wantDeleted bool, wantName string) {
		t.Helper()
		coll, _ := src.Engine().Collection(ctx, "album")
		evs, err := coll.EntityEvents(ctx, eid)
		must(t, err)
		want, _ := coll.GetState(ctx, eid)
		wantBytes, _ := want.Encode()
		if want.Deleted() != wantDeleted || want.Values.Get("name") != value.String(wantName) {
			t.Fatalf("source: deleted %v, values %v", want.Deleted(), want.Values)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for trial := range 10 {
			replica := newNode(t)
			for _, ev := range causalShuffle(rng, evs) {
				must(t, core.ApplyEventsForTest(ctx, replica, []event.Event{ev}))
			}
			rc, _ := replica.Engine().Collection(ctx, "album")
			got, err := rc.GetState(ctx, eid)
			must(t, err)
			gotBytes, _ := got.Encode()
			if string(gotBytes) != string(wantBytes) {
				t.Fatalf("trial %d: replica differs\n got %v\nwant %v", trial, got.Values, want.Values)
			}
		}
	}
	check(false, "OoS")
	deleteEntity(t, c, "album", eid)
	check(true, "OoS")
}
