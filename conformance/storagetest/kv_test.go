package storagetest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// kvHarness runs the key-value toolkit over its in-memory store, which
// outlives the engines opened on it, so the harness can reopen them.
type kvHarness struct {
	store *kv.MemoryStore
	delay time.Duration // before each transaction: widens write races (mutation testing)
	mu    sync.Mutex
	e     storage.Engine
}

// keepOpen is the store as an engine sees it: closing the engine leaves it
// open, and each transaction starts after delay.
type keepOpen struct {
	*kv.MemoryStore
	delay time.Duration
}

func (keepOpen) Close() error { return nil }

func (s keepOpen) Update(ctx context.Context, fn func(kv.Tx) error) error {
	time.Sleep(s.delay)
	return s.MemoryStore.Update(ctx, fn)
}

func newKVHarness(ctx context.Context, _ storagetest.T) (storagetest.Harness, error) {
	return newDelayedKVHarness(ctx, 0)
}

func newDelayedKVHarness(ctx context.Context, delay time.Duration) (storagetest.Harness, error) {
	h := &kvHarness{store: kv.NewMemoryStore(), delay: delay}
	if _, err := h.Reopen(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *kvHarness) Engine() storage.Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.e
}

func (h *kvHarness) Capabilities() storagetest.Capabilities {
	return storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}
}

func (h *kvHarness) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.e != nil {
		_ = h.e.Close()
	}
}

func (h *kvHarness) Reopen(ctx context.Context) (storage.Engine, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.e != nil {
		_ = h.e.Close()
		h.e = nil
	}
	e, err := kv.New(ctx, keepOpen{h.store, h.delay})
	if err != nil {
		return nil, err
	}
	h.e = e
	return e, nil
}

func (h *kvHarness) StampNewerFormat(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.e != nil {
		_ = h.e.Close()
		h.e = nil
	}
	return h.store.Update(ctx, func(tx kv.Tx) error { return tx.Set([]byte("v"), []byte("99")) })
}

// TestKV runs the suite on the key-value toolkit over its in-memory store.
func TestKV(t *testing.T) {
	storagetest.Run(t, newKVHarness)
}
