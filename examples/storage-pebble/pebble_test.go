package pebblekv_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	pebblekv "github.com/ankurah/ankurah-go/examples/storage-pebble"
)

// harness gives every case a fresh database directory, which it can reopen.
type harness struct {
	dir string
	mu  sync.Mutex
	e   storage.Engine
}

func (h *harness) Engine() storage.Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.e
}

func (h *harness) Capabilities() storagetest.Capabilities {
	return storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}
}

func (h *harness) closeEngine() {
	if h.e != nil {
		_ = h.e.Close()
		h.e = nil
	}
}

func (h *harness) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeEngine()
	os.RemoveAll(h.dir)
}

func (h *harness) Reopen(ctx context.Context) (storage.Engine, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeEngine()
	e, err := pebblekv.Open(ctx, filepath.Join(h.dir, "db"), true)
	if err != nil {
		return nil, err
	}
	h.e = e
	return e, nil
}

// StampNewerFormat writes the toolkit's format key (no key prefix) as a
// later release would.
func (h *harness) StampNewerFormat(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeEngine()
	db, err := pebble.Open(filepath.Join(h.dir, "db"), &pebble.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Set([]byte("v"), []byte("99"), pebble.Sync)
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(ctx context.Context, _ storagetest.T) (storagetest.Harness, error) {
		dir, err := os.MkdirTemp("", "ankurah-pebble-")
		if err != nil {
			return nil, err
		}
		h := &harness{dir: dir}
		if _, err := h.Reopen(ctx); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return h, nil
	})
}
