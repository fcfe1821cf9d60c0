package storagetest_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

func newMemoryHarness(_ context.Context, _ storagetest.T) (storagetest.Harness, error) {
	e := memory.New()
	share := func(context.Context) (storage.Engine, error) { return e.Share() }
	return storagetest.NewSharedHarness(e, storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, share, nil), nil
}

func TestMemory(t *testing.T) {
	storagetest.Run(t, newMemoryHarness)
}
