package storageplugin_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// pluginHarness starts a fresh plugin process per case; args may name files
// in the case's own directory.
func pluginHarness(path string, args func(dir string) []string) storagetest.HarnessMaker {
	return func(ctx context.Context, t storagetest.T) (storagetest.Harness, error) {
		var opts []storageplugin.Option
		if args != nil {
			opts = append(opts, storageplugin.WithArgs(args(tempDir(t))...))
		}
		e, err := storageplugin.Open(ctx, path, opts...)
		if err != nil {
			return nil, err
		}
		_, indexes := e.(storage.Indexer)
		return storagetest.NewHarness(e, storagetest.Capabilities{Indexes: indexes}, nil), nil
	}
}

func tempDir(t storagetest.T) string {
	if tt, ok := t.(interface{ TempDir() string }); ok {
		return tt.TempDir()
	}
	panic("storagetest.T without TempDir")
}

func TestConformance_Memory(t *testing.T) {
	storagetest.Run(t, pluginHarness(bin(t, "ankurah-storage-memory"), nil))
}

func TestConformance_Bolt(t *testing.T) {
	storagetest.Run(t, pluginHarness(bin(t, "ankurah-storage-bolt"), func(dir string) []string {
		return []string{filepath.Join(dir, "data.db")}
	}))
}

func TestConformance_Example(t *testing.T) {
	storagetest.Run(t, pluginHarness(bin(t, "ankurah-storage-example"), nil))
}
