package tikv_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tikv/client-go/v2/testutils"
	tikvstore "github.com/tikv/client-go/v2/tikv"
	"github.com/tikv/client-go/v2/txnkv"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// An engine on client-go's in-process store; with a cluster, use
// tikv.Open(ctx, []string{"pd1:2379"}) or tikv.OpenURL(ctx, "tikv://pd1:2379").
func ExampleNew() {
	ctx := context.Background()
	rpc, cluster, pd, err := testutils.NewMockTiKV("", nil)
	if err != nil {
		log.Fatal(err)
	}
	testutils.BootstrapWithSingleStore(cluster)
	store, err := tikvstore.NewTestTiKVStore(rpc, pd, nil, nil, 0)
	if err != nil {
		log.Fatal(err)
	}
	client := &txnkv.Client{KVStore: store}
	defer client.Close()

	e, err := tikv.New(ctx, client, tikv.WithKeyPrefix("example"))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		log.Fatal(err)
	}

	b := &storage.Batch{}
	for i, name := range []string{"Walking on a Dream", "Ice on the Dune", "Two Vines"} {
		nonce := make([]byte, event.NonceSize) // random in real use
		nonce[0] = byte(i)
		g := event.NewGenesis("album", map[string][]byte{"lww": []byte(name)}, nonce, 1_700_000_000_000)
		b.Events = append(b.Events, g)
		b.States = append(b.States, storage.StateWrite{State: entity.State{
			ID: g.Entity, Collection: "album", Head: event.NewClock(g.ID()),
			Values: value.FieldsOf(map[string]value.Value{"name": value.String(name), "year": value.Int(int64(2008 + 5*i))}),
		}})
	}
	if err := e.Apply(ctx, b); err != nil {
		log.Fatal(err)
	}

	albums, _ := e.Collection(ctx, "album")
	sel, _ := query.Parse("year >= ? ORDER BY year DESC")
	bound, _ := sel.Bind(2010)
	states, err := albums.FetchStates(ctx, bound)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range states {
		fmt.Println(s.Values.Get("year").Text(), s.Values.Get("name").Text())
	}
	// Output:
	// 2018 'Two Vines'
	// 2013 'Ice on the Dune'
}

func ExampleOpenURL() {
	e, err := tikv.OpenURL(context.Background(), "tikv://pd1:2379,pd2:2379?prefix=myapp")
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
}
