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
	store  *kv.MemoryStore
	delay  time.Duration // before each transaction: widens write races (mutation testing)
	feed   bool          // the engines keep a change log and are storage.ChangeFeeds
	mu     sync.Mutex
	e      storage.Engine
	shared []storage.Engine
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
	for _, e := range h.shared {
		_ = e.Close()
	}
	if h.e != nil {
		_ = h.e.Close()
	}
}

// open makes an engine on the harness's store.
func (h *kvHarness) open(ctx context.Context) (storage.Engine, error) {
	var opts []kv.Option
	if h.feed {
		opts = append(opts, kv.WithChangeFeed(0))
	}
	e, err := kv.New(ctx, keepOpen{h.store, h.delay}, opts...)
	if err != nil {
		return nil, err
	}
	if f := e.Feed(); f != nil {
		return f, nil
	}
	return e, nil
}

// Share opens another engine on the same store, as a second server would
// (the Feed cases use it).
func (h *kvHarness) Share(ctx context.Context) (storage.Engine, error) {
	e, err := h.open(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shared = append(h.shared, e)
	return e, nil
}

func (h *kvHarness) Reopen(ctx context.Context) (storage.Engine, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.e != nil {
		_ = h.e.Close()
		h.e = nil
	}
	e, err := h.open(ctx)
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

// TestKVFeed runs the suite on the toolkit with its change log: the engines
// are storage.ChangeFeeds.
func TestKVFeed(t *testing.T) {
	storagetest.Run(t, func(ctx context.Context, _ storagetest.T) (storagetest.Harness, error) {
		h := &kvHarness{store: kv.NewMemoryStore(), feed: true}
		if _, err := h.Reopen(ctx); err != nil {
			return nil, err
		}
		return h, nil
	})
}
