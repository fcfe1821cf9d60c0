package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// aggBench is a memory node holding 100k albums (100 artists, 30 years),
// made once for every sub-benchmark.
var aggBench struct {
	once sync.Once
	n    *core.Node
	ids  []id.EntityID
	err  error
}

const aggBenchEntities = 100_000

func aggBenchNode(b *testing.B) (*core.Node, []id.EntityID) {
	aggBench.once.Do(func() {
		ctx := context.Background()
		n, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
		if err != nil {
			aggBench.err = err
			return
		}
		c := n.Context(nil)
		for start := 0; start < aggBenchEntities; start += 1000 {
			trx := c.Begin()
			var muts []*core.Mut
			for i := start; i < start+1000; i++ {
				m, err := trx.Create(ctx, "album")
				if err != nil {
					aggBench.err = err
					return
				}
				m.Set("artist", fmt.Sprintf("artist%03d", i%100))
				m.Set("year", 1990+i%30)
				m.Set("tracks", i%17)
				muts = append(muts, m)
			}
			if err := trx.Commit(ctx); err != nil {
				aggBench.err = err
				return
			}
			for _, m := range muts {
				aggBench.ids = append(aggBench.ids, m.ID())
			}
		}
		aggBench.n = n
	})
	if aggBench.err != nil {
		b.Fatal(aggBench.err)
	}
	return aggBench.n, aggBench.ids
}

// BenchmarkAggregate_Commit is the cost of one commit (an album moves to
// another artist and year) on a node with 100k albums while one live result
// over all of them is open: none, a plain live query, a live COUNT, a live
// GROUP BY artist with count/sum/min/max/avg. The aggregates' cost follows
// the groups a commit touches; the live query's follows the result size.
func BenchmarkAggregate_Commit(b *testing.B) {
	spec := core.AggregateSpec{GroupBy: []string{"artist"}, Aggs: []core.Agg{core.SumOf("tracks"), core.MinOf("year"), core.MaxOf("year"), core.AvgOf("tracks")}}
	for _, kind := range []string{"none", "livequery", "count", "groupby"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			n, ids := aggBenchNode(b)
			c := n.Context(nil)
			switch kind {
			case "livequery":
				lq, err := c.Query(ctx, "album", "year >= 1990")
				if err != nil {
					b.Fatal(err)
				}
				defer lq.Close()
			case "count":
				la, err := c.Count(ctx, "album", "year >= 1990")
				if err != nil {
					b.Fatal(err)
				}
				defer la.Close()
			case "groupby":
				la, err := c.Aggregate(ctx, "album", spec, "year >= 1990")
				if err != nil {
					b.Fatal(err)
				}
				defer la.Close()
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				m, err := trx.Edit(ctx, "album", ids[i%len(ids)])
				if err != nil {
					b.Fatal(err)
				}
				m.Set("artist", fmt.Sprintf("artist%03d", (i*7)%100))
				m.Set("year", 1990+(i*11)%30)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
