package storagetest_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

func newKVHarness(ctx context.Context, _ storagetest.T) (storagetest.Harness, error) {
	e, err := kv.New(ctx, kv.NewMemoryStore())
	if err != nil {
		return nil, err
	}
	return storagetest.NewHarness(e, storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, nil), nil
}

// TestKV runs the suite on the key-value toolkit over its in-memory store.
func TestKV(t *testing.T) {
	storagetest.Run(t, newKVHarness)
}
