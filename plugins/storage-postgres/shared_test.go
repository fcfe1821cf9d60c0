package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

// Two servers on one database: a commit through one reaches a live query
// on the other through the change feed (core.WithSharedStorage), and its own
// live query before Commit returns.
func TestSharedStorage_TwoNodesOnOneDatabase(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	schema := pgtest.SchemaName(t.Name())
	open := func() *core.Node {
		e, err := postgres.Open(ctx, url, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		n, err := core.NewNode(ctx, e, policy.Permissive{}, core.WithSharedStorage())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(); e.Close() })
		return n
	}
	a := open()
	b := open()
	t.Cleanup(func() { dropSchema(t, url, schema) })
	lqA, err := a.Context(nil).Query(ctx, "album", "year > ?", 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer lqA.Close()
	lqB, err := b.Context(nil).Query(ctx, "album", "year > ?", 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer lqB.Close()
	trx := b.Context(nil).Begin()
	m, err := trx.Create(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set("year", 2015); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(lqB.Items()); n != 1 {
		t.Fatalf("the writer's live query after Commit holds %d", n)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(lqA.Items()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the other server's live query never heard of the commit")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
