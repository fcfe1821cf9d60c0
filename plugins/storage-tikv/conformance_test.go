package tikv_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(ctx context.Context, st storagetest.T) (storagetest.Harness, error) {
		// A scan batch smaller than the default makes the suite cross batch boundaries.
		e, err := tikv.New(ctx, client(t), tikv.WithKeyPrefix(uniquePrefix(t)), tikv.WithScanBatchSize(64))
		if err != nil {
			return nil, err
		}
		return storagetest.NewHarness(e, storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, nil), nil
	})
}
