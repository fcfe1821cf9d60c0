package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openEngine opens an engine on a schema of its own, closed and dropped
// when the test ends.
func openEngine(t testing.TB, opts ...postgres.Option) *postgres.Engine {
	t.Helper()
	url := pgtest.URL(t)
	schema := pgtest.SchemaName(t.Name())
	e, err := postgres.Open(context.Background(), url, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Close()
		dropSchema(t, url, schema)
	})
	return e
}
