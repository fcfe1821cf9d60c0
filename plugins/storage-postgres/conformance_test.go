package postgres_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

func TestConformance(t *testing.T) {
	url := pgtest.URL(t)
	storagetest.Run(t, func(ctx context.Context, st storagetest.T) (storagetest.Harness, error) {
		schema := pgtest.SchemaName(st.Name())
		e, err := postgres.Open(ctx, url, postgres.WithSchema(schema))
		if err != nil {
			return nil, err
		}
		share := func(ctx context.Context) (storage.Engine, error) {
			return postgres.Open(ctx, url, postgres.WithSchema(schema))
		}
		return storagetest.NewSharedHarness(e, storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, share, func() { dropSchema(st, url, schema) }), nil
	})
}
