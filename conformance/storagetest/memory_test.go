package storagetest_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

func newMemoryHarness(_ context.Context, _ storagetest.T) (storagetest.Harness, error) {
	return storagetest.NewHarness(memory.New(), storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, nil), nil
}

func TestMemory(t *testing.T) {
	storagetest.Run(t, newMemoryHarness)
}
