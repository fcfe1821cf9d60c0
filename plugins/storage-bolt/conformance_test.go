package bolt_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// newHarness gives every case a fresh database file.
func newHarness(ctx context.Context, _ storagetest.T) (storagetest.Harness, error) {
	dir, err := os.MkdirTemp("", "ankurah-bolt-")
	if err != nil {
		return nil, err
	}
	e, err := bolt.Open(ctx, filepath.Join(dir, "ankurah.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return storagetest.NewHarness(e, storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, func() { os.RemoveAll(dir) }), nil
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, newHarness)
}
