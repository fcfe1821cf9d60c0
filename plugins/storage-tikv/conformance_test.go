package tikv_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// harness is an engine under its own key prefix of the shared client, which
// it can reopen (storagetest.Reopener).
type harness struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	e      *tikv.Engine
	shared []*tikv.Engine // opened by Share, closed by Close
}

// Share opens another engine on the same key prefix: a second server on the
// same cluster (storagetest.Sharer), for the Feed cases.
func (h *harness) Share(ctx context.Context) (storage.Engine, error) {
	e, err := tikv.New(ctx, client(h.t), tikv.WithKeyPrefix(h.prefix), tikv.WithScanBatchSize(64))
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.shared = append(h.shared, e)
	h.mu.Unlock()
	return e, nil
}

func (h *harness) Engine() storage.Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.e
}

func (h *harness) Capabilities() storagetest.Capabilities {
	return storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}
}

func (h *harness) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.e != nil {
		_ = h.e.Close()
	}
	for _, e := range h.shared {
		_ = e.Close()
	}
}

func (h *harness) Reopen(ctx context.Context) (storage.Engine, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.e != nil {
		_ = h.e.Close()
		h.e = nil
	}
	// A scan batch smaller than the default makes the suite cross batch boundaries.
	e, err := tikv.New(ctx, client(h.t), tikv.WithKeyPrefix(h.prefix), tikv.WithScanBatchSize(64))
	if err != nil {
		return nil, err
	}
	h.e = e
	return e, nil
}

func (h *harness) StampNewerFormat(ctx context.Context) error {
	h.mu.Lock()
	if h.e != nil {
		_ = h.e.Close()
		h.e = nil
	}
	h.mu.Unlock()
	txn, err := client(h.t).Begin()
	if err != nil {
		return err
	}
	if err := txn.Set([]byte(h.prefix+"\x00v"), []byte("99")); err != nil {
		return err
	}
	return txn.Commit(ctx)
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(ctx context.Context, st storagetest.T) (storagetest.Harness, error) {
		h := &harness{t: t, prefix: uniquePrefix(t)}
		if _, err := h.Reopen(ctx); err != nil {
			return nil, err
		}
		return h, nil
	})
}
