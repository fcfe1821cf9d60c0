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
	"github.com/ankurah/ankurah-go/core/storage"
	indexeddb "github.com/ankurah/ankurah-go/plugins/storage-indexeddb"
)

var dbSeq atomic.Int64

func newHarness(ctx context.Context, t storagetest.T) (storagetest.Harness, error) {
	name := fmt.Sprintf("storagetest-%d", dbSeq.Add(1))
	e, err := indexeddb.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return storagetest.NewHarness(e, storagetest.Capabilities{Indexes: true}, func() {
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
