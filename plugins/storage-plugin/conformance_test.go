package storageplugin_test

import (
	"context"
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
		caps := storagetest.Capabilities{}
		_, caps.Indexes = e.(storage.Indexer)
		_, caps.Lookup = e.(storage.CollectionLooker)
		_, caps.Repair = e.(storage.Repairer)
		if _, ok := e.(storage.ChangeFeed); ok {
			// The Feed cases need a second handle on the same store, which a
			// store living inside one plugin process cannot give;
			// TestCapabilities_CallsCrossTheBoundary follows the feed.
			e = withoutFeed{e.(fullEngine)}
		}
		return storagetest.NewHarness(e, caps, nil), nil
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

func TestConformance_Example(t *testing.T) {
	storagetest.Run(t, pluginHarness(bin(t, "ankurah-storage-example"), nil))
}

// fullEngine is a host engine of a plugin that implements every optional
// interface (the memory plugin).
type fullEngine interface {
	storage.Engine
	storage.Indexer
	storage.CollectionLooker
	storage.Clearer
	storage.CollectionLister
	storage.Repairer
	storage.Explainer
}

// withoutFeed is a full engine without its storage.ChangeFeed.
type withoutFeed struct{ fullEngine }
