package tikv_test

import (
	"context"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// Two nodes in one process on one TiKV store (core.WithSharedStorage): the
// 20 albums committed through one reach a live query on the other through
// the store's change feed, as one-shot reads always did.
func TestSharedStorage_TwoNodesOnOneStore(t *testing.T) {
	ctx := context.Background()
	prefix := uniquePrefix(t)
	open := func() *core.Node {
		e := newEngine(t, tikv.WithKeyPrefix(prefix))
		n, err := core.NewNode(ctx, e, policy.Permissive{}, core.WithSharedStorage())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		return n
	}
	a := open()
	b := open()
	lqA, err := a.Context(nil).Query(ctx, "album", "year > ?", 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer lqA.Close()
	const albums = 20
	for i := range albums {
		trx := b.Context(nil).Begin()
		m, err := trx.Create(ctx, "album")
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Set("year", 2001+i); err != nil {
			t.Fatal(err)
		}
		if err := trx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(lqA.Items()) != albums {
		if time.Now().After(deadline) {
			t.Fatalf("the other node's live query holds %d of %d albums", len(lqA.Items()), albums)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
