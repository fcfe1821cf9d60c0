//go:build js && wasm

package indexeddb_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall/js"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	indexeddb "github.com/ankurah/ankurah-go/plugins/storage-indexeddb"
)

var dbSeq atomic.Int64

func newHarness(ctx context.Context, t storagetest.T) (storagetest.Harness, error) {
	name := fmt.Sprintf("storagetest-%d", dbSeq.Add(1))
	e, err := indexeddb.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return storagetest.NewHarness(e, storagetest.Capabilities{Indexes: true, Lookup: true}, func() {
		if err := indexeddb.Delete(context.Background(), name); err != nil {
			t.Errorf("deleting database %s: %v", name, err)
		}
	}), nil
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, newHarness)
}

func TestOpen_RefusesNewerFormat(t *testing.T) {
	ctx := t.Context()
	const name = "format-newer"
	e, err := indexeddb.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	_ = e.Close()
	t.Cleanup(func() { _ = indexeddb.Delete(context.Background(), name) })
	// Write a newer format marker with plain IndexedDB calls.
	done := make(chan error, 1)
	req := js.Global().Get("indexedDB").Call("open", name)
	var onOpen, onErr js.Func
	onOpen = js.FuncOf(func(js.Value, []js.Value) any {
		db := req.Get("result")
		tx := db.Call("transaction", []any{"meta"}, "readwrite")
		tx.Call("objectStore", "meta").Call("put", indexeddb.FormatVersion+1, "format")
		var onDone js.Func
		onDone = js.FuncOf(func(js.Value, []js.Value) any {
			db.Call("close")
			done <- nil
			onDone.Release()
			return nil
		})
		tx.Set("oncomplete", onDone)
		return nil
	})
	onErr = js.FuncOf(func(js.Value, []js.Value) any {
		done <- errors.New(req.Get("error").Get("message").String())
		return nil
	})
	req.Set("onsuccess", onOpen)
	req.Set("onerror", onErr)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	onOpen.Release()
	onErr.Release()

	_, err = indexeddb.Open(ctx, name)
	if !errors.Is(err, storage.ErrFormat) {
		t.Fatalf("Open of a database with a newer format: err = %v, want storage.ErrFormat", err)
	}
	t.Logf("refused with: %v", err)
}

func TestClear_DropsStatesEventsAndIndexEntries(t *testing.T) {
	ctx := t.Context()
	h, err := newHarness(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	e := h.Engine().(*indexeddb.Engine)
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatal(err)
	}
	ev := event.NewGenesis("album", nil, make([]byte, event.NonceSize), 1)
	st := entity.State{ID: ev.Entity, Collection: "album", Head: event.NewClock(ev.ID()), Values: value.FieldsOf(map[string]value.Value{"year": value.Int(1999)})}
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: st}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	c, _ := e.Collection(ctx, "album")
	if _, err := c.GetState(ctx, ev.Entity); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetState after Clear: err = %v, want ErrNotFound", err)
	}
	if evs, err := c.GetEvents(ctx, []id.EventID{ev.ID()}); err != nil || len(evs) != 0 {
		t.Errorf("GetEvents after Clear = %d events, %v; want none", len(evs), err)
	}
	for _, q := range []string{"true", "year = 1999", "true ORDER BY year LIMIT 1"} {
		b, _ := query.ParseBound(q)
		if got, err := c.FetchStates(ctx, b); err != nil || len(got) != 0 {
			t.Errorf("FetchStates(%q) after Clear = %d states, %v; want none", q, len(got), err)
		}
	}
	// The index declaration survives: new writes are indexed again.
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: st}}}); err != nil {
		t.Fatalf("Apply after Clear: %v", err)
	}
	b, _ := query.ParseBound("year = 1999")
	if got, err := c.FetchStates(ctx, b); err != nil || len(got) != 1 {
		t.Errorf("FetchStates after writing again = %d states, %v; want 1", len(got), err)
	}
}
