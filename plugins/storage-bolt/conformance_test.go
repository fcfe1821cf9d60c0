package bolt_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// harness gives every case a fresh database file, which it can reopen
// (storagetest.Reopener) and open more handles on (storagetest.Sharer, for
// the Feed cases).
type harness struct {
	dir, path string
	mu        sync.Mutex
	e         *bolt.Engine
	shared    []*bolt.Engine
}

func newHarness(ctx context.Context, _ storagetest.T) (storagetest.Harness, error) {
	dir, err := os.MkdirTemp("", "ankurah-bolt-")
	if err != nil {
		return nil, err
	}
	h := &harness{dir: dir, path: filepath.Join(dir, "ankurah.db")}
	if _, err := h.Reopen(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return h, nil
}

func (h *harness) Engine() storage.Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.e
}

func (h *harness) Capabilities() storagetest.Capabilities {
	return storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}
}

// closeEngine closes every handle, so the file closes.
func (h *harness) closeEngine() {
	for _, e := range h.shared {
		_ = e.Close() // the case may have closed it
	}
	h.shared = nil
	if h.e != nil {
		_ = h.e.Close()
		h.e = nil
	}
}

// Share opens another handle on the open file.
func (h *harness) Share(ctx context.Context) (storage.Engine, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, err := h.e.Share(ctx)
	if err != nil {
		return nil, err
	}
	h.shared = append(h.shared, e)
	return e, nil
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
	// Without fsync: the cases are about the contract, not durability
	// (crash_test.go is), and Feed/SlowFollower commits 10,000 batches.
	e, err := bolt.Open(ctx, h.path, bolt.WithNoSync(true))
	if err != nil {
		return nil, err
	}
	h.e = e
	return e, nil
}

func (h *harness) StampNewerFormat(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeEngine()
	db, err := bbolt.Open(h.path, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("kv")).Put([]byte("v"), []byte("99")) })
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, newHarness)
}
