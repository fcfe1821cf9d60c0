//go:build js && wasm

package indexeddb_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"syscall/js"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	indexeddb "github.com/ankurah/ankurah-go/plugins/storage-indexeddb"
)

func u8(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// rawPut writes value under key in an object store of the database name
// with plain IndexedDB calls, as an older build could have.
func rawPut(t *testing.T, name, store string, key []any, val []byte) {
	t.Helper()
	done := make(chan error, 1)
	req := js.Global().Get("indexedDB").Call("open", name)
	var onOpen, onErr, onDone js.Func
	onOpen = js.FuncOf(func(js.Value, []js.Value) any {
		db := req.Get("result")
		tx := db.Call("transaction", []any{store}, "readwrite")
		tx.Call("objectStore", store).Call("put", u8(val), js.ValueOf(key))
		onDone = js.FuncOf(func(js.Value, []js.Value) any {
			db.Call("close")
			done <- nil
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
	err := <-done
	onOpen.Release()
	onErr.Release()
	onDone.Release()
	if err != nil {
		t.Fatal(err)
	}
}

func fetchIDs(t *testing.T, c storage.Collection, q string) []id.EntityID {
	t.Helper()
	b, err := query.ParseBound(q)
	if err != nil {
		t.Fatal(err)
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

func TestFetch_SkipsUndecodableRow(t *testing.T) {
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
	var good []id.EntityID
	for i, year := range []int64{1959, 1965} {
		ev := event.NewGenesis("album", nil, append(make([]byte, event.NonceSize-1), byte(i)), 1)
		st := entity.State{ID: ev.Entity, Collection: "album", Head: event.NewClock(ev.ID()), Values: value.FieldsOf(map[string]value.Value{"year": value.Int(year)})}
		if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: st}}}); err != nil {
			t.Fatal(err)
		}
		good = append(good, ev.Entity)
	}
	bad := id.EntityID(sha256.Sum256([]byte("garbage")))
	badEvent := id.EventID(sha256.Sum256([]byte("bad event")))
	rawPut(t, e.Name(), "states", []any{"album", u8(bad[:])}, []byte("\xa1\x01not a state"))
	rawPut(t, e.Name(), "index", []any{"album", "year", u8([]byte{0}), u8(bad[:])}, []byte{0}) // sorts before every year
	rawPut(t, e.Name(), "events", []any{"album", u8(badEvent[:])}, []byte{0xff, 0x00})
	rawPut(t, e.Name(), "entity_events", []any{"album", u8(good[0][:]), u8(badEvent[:])}, []byte{0})

	c, err := e.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(good)
	slices.SortFunc(sorted, id.EntityID.Compare)
	before := storage.BadRowsSkipped()
	for q, want := range map[string][]id.EntityID{
		"true":                          sorted,
		"year > 0":                      sorted,
		"true ORDER BY year LIMIT 1":    good[:1],
		"true ORDER BY year DESC":       {good[1], good[0]},
		"year IN (1959, 1965) LIMIT 10": sorted,
	} {
		if got := fetchIDs(t, c, q); !slices.Equal(got, want) {
			t.Errorf("FetchStates(%q) = %v, want the good entities %v", q, got, want)
		}
	}
	if n := storage.BadRowsSkipped() - before; n < 1 {
		t.Errorf("BadRowsSkipped grew by %d, want at least 1", n)
	}
	if _, err := c.GetState(ctx, bad); !errors.Is(err, storage.ErrFormat) || !strings.Contains(err.Error(), bad.String()) {
		t.Errorf("GetState of an undecodable state: %v, want ErrFormat naming it", err)
	}
	if evs, err := c.EntityEvents(ctx, good[0]); err != nil || len(evs) != 1 {
		t.Errorf("EntityEvents over one good and one bad event = %d events, %v; want the good one", len(evs), err)
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "title"}); err != nil {
		t.Errorf("DeclareIndex over an undecodable state: %v", err)
	}
}

func TestLookupCollection_ExistsOnceItHoldsAKey(t *testing.T) {
	ctx := t.Context()
	h, err := newHarness(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	e := h.Engine().(*indexeddb.Engine)
	if _, err := e.LookupCollection(ctx, "album"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LookupCollection of an unknown name: %v, want ErrNotFound", err)
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LookupCollection(ctx, "album"); err != nil {
		t.Errorf("LookupCollection of a collection with a declared index: %v", err)
	}
	if _, err := e.LookupCollection(ctx, "alb"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LookupCollection of a prefix of a collection's name: %v, want ErrNotFound", err)
	}
}
