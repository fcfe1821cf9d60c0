package bolt_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

func TestApply_StoresStatesAndEvents(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t)
	ev, s := genesis("album", 1, map[string]value.Value{"name": value.String("Kind of Blue")})
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: s}}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetState(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if name := got.Value("name"); !value.Equal(name, value.String("Kind of Blue")) || !got.Head.Equal(s.Head) {
		t.Errorf("GetState = %v head %v, want the applied state", name.GoString(), got.Head)
	}
	evs, err := c.GetEvents(ctx, []id.EventID{ev.ID(), {1}})
	if err != nil || len(evs) != 1 || evs[0].ID() != ev.ID() {
		t.Errorf("GetEvents = %d events, %v; want the one stored", len(evs), err)
	}
	evs, err = c.EntityEvents(ctx, s.ID)
	if err != nil || len(evs) != 1 || evs[0].ID() != ev.ID() {
		t.Errorf("EntityEvents = %d events, %v; want the genesis event", len(evs), err)
	}
	if _, err := c.GetState(ctx, id.EntityID{9}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetState of an unknown entity: %v, want ErrNotFound", err)
	}
}

func TestApply_DuplicateEventIsNoOp(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t)
	s := create(t, e, "album", 1, nil)
	c, _ := e.Collection(ctx, "album")
	evs, _ := c.EntityEvents(ctx, s.ID)
	if err := e.Apply(ctx, &storage.Batch{Events: evs}); err != nil {
		t.Fatalf("re-applying a stored event: %v", err)
	}
	again, _ := c.EntityEvents(ctx, s.ID)
	if len(again) != 1 {
		t.Errorf("EntityEvents after a duplicate = %d events, want 1", len(again))
	}
}

func TestApply_ConflictWritesNothing(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t)
	s := create(t, e, "album", 1, map[string]value.Value{"year": value.Int(1959)})
	if _, err := update(t, e, s, map[string]value.Value{"year": value.Int(1960)}); err != nil {
		t.Fatal(err)
	}
	// A second writer still on the old head, creating another entity in the same batch.
	stale := event.Event{Collection: "album", Entity: s.ID, Parent: s.Head, Operations: map[string][]byte{"lww": []byte("stale")}}
	next := s.Clone()
	next.Head = event.NewClock(stale.ID())
	newEv, newState := genesis("album", 2, nil)
	err := e.Apply(ctx, &storage.Batch{
		Events: []event.Event{stale, newEv},
		States: []storage.StateWrite{{State: newState}, {State: next, Expected: s.Head}},
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("stale write: %v, want ErrConflict", err)
	}
	if !strings.Contains(err.Error(), "album/"+s.ID.String()) {
		t.Errorf("conflict error %q does not name the entity", err)
	}
	c, _ := e.Collection(ctx, "album")
	if _, err := c.GetState(ctx, newState.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("state of the failed batch: %v, want ErrNotFound", err)
	}
	if evs, _ := c.GetEvents(ctx, []id.EventID{stale.ID(), newEv.ID()}); len(evs) != 0 {
		t.Errorf("events of the failed batch stored: %d", len(evs))
	}
	if _, err := update(t, e, s, nil); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("update from the old head: %v, want ErrConflict", err)
	}
	// Creating an entity that exists is a conflict too.
	ev, dup := genesis("album", 1, nil)
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: dup}}}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("creating a stored entity: %v, want ErrConflict", err)
	}
}

func TestApply_RefusesInvalidBatches(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t)
	_, s := genesis("", 1, nil)
	tests := []struct {
		name  string
		batch *storage.Batch
	}{
		{"nil batch", nil},
		{"state without collection", &storage.Batch{States: []storage.StateWrite{{State: s}}}},
		{"event without collection", &storage.Batch{Events: []event.Event{{Entity: id.EntityID{1}, Parent: event.NewClock(id.EventID{2})}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.Apply(ctx, tt.batch); !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("Apply = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestDeclareIndex_BuildsExistingAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	e, path := openTemp(t)
	for i := range 20 {
		create(t, e, "album", uint64(i), map[string]value.Value{"year": value.Int(int64(1950 + i))})
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatal(err)
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatalf("declaring again: %v", err)
	}
	e.Close()
	e2, err := bolt.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	plan, err := e2.Explain(ctx, "album", mustBound(t, "year >= 1965 ORDER BY year DESC LIMIT 2"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, `index "year"`) {
		t.Errorf("plan after reopen = %q, want the year index", plan)
	}
	c, _ := e2.Collection(ctx, "album")
	got, err := c.FetchStates(ctx, mustBound(t, "year >= 1965 ORDER BY year DESC LIMIT 2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !value.Equal(got[0].Value("year"), value.Int(1969)) || !value.Equal(got[1].Value("year"), value.Int(1968)) {
		t.Errorf("FetchStates = %d states, want years 1969, 1968", len(got))
	}
}

func TestOpen_ClearErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}

	foreign := filepath.Join(dir, "foreign.db")
	db, err := bbolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("someone else's")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	newer := filepath.Join(dir, "newer.db")
	e, err := bolt.Open(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	db, err = bbolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("kv")).Put([]byte("v"), []byte(strconv.Itoa(bolt.FormatVersion+1)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Format 1 kept a bucket per collection beside a "meta" bucket; a meta
	// bucket of an unknown version is refused.
	old := filepath.Join(dir, "format7.db")
	db, err = bbolt.Open(old, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("collections")); err != nil {
			return err
		}
		return meta.Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 7))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	locked := filepath.Join(dir, "locked.db")
	holder, err := bolt.Open(ctx, locked)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()

	tests := []struct {
		name    string
		path    string
		want    error
		message string
	}{
		{"not a bolt file", garbage, storage.ErrFormat, "not a bolt database"},
		{"a bolt file of someone else", foreign, storage.ErrFormat, "not an Ankurah database"},
		{"a newer format", newer, storage.ErrFormat, "newer"},
		{"an unknown meta format", old, storage.ErrFormat, "format record"},
		{"a file another process holds", locked, bolt.ErrLocked, "another process holds it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := bolt.Open(ctx, tt.path, bolt.WithLockTimeout(50*time.Millisecond))
			if err == nil {
				e.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Open = %q, want %v mentioning %q and the path", err, tt.want, tt.message)
			}
		})
	}
}

func TestClose_LaterCallsFailWithErrClosed(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t)
	c, err := e.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetState(ctx, id.EntityID{1}); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("GetState after Close: %v", err)
	}
	if err := e.Apply(ctx, &storage.Batch{}); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Apply after Close: %v", err)
	}
	if _, err := e.Collection(ctx, "x"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Collection after Close: %v", err)
	}
}

func TestApply_EventsWithoutStateStayOutOfFetches(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t, boltNoSync())
	kept := create(t, e, "album", 1, map[string]value.Value{"year": value.Int(1)})
	if _, err := update(t, e, kept, map[string]value.Value{"year": value.Int(2)}); err != nil {
		t.Fatal(err)
	}
	orphan, _ := genesis("album", 2, nil) // synced ahead of its state
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{orphan}}); err != nil {
		t.Fatal(err)
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatal(err)
	}
	c, _ := e.Collection(ctx, "album")
	for _, q := range []string{"true", "year > 0"} {
		got, err := c.FetchStates(ctx, mustBound(t, q))
		if err != nil || len(got) != 1 || got[0].ID != kept.ID {
			t.Errorf("FetchStates(%q) = %d states, %v; want only the stored entity", q, len(got), err)
		}
	}
	if evs, err := c.EntityEvents(ctx, orphan.Entity); err != nil || len(evs) != 1 {
		t.Errorf("EntityEvents of the entity without state = %d, %v", len(evs), err)
	}
	if evs, err := c.EntityEvents(ctx, kept.ID); err != nil || len(evs) != 2 {
		t.Errorf("EntityEvents of the updated entity = %d, %v; want 2", len(evs), err)
	}
}
