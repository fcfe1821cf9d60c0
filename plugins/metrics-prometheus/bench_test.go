package prommetrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	prommetrics "github.com/ankurah/ankurah-go/plugins/metrics-prometheus"
)

// BenchmarkCommit_Prometheus is core's BenchmarkCommit_Memory (one edit per
// commit on the memory engine) without metrics, with the node's hooks
// reporting to Prometheus, and with the engine instrumented as well (what
// `ankurah serve` runs).
func BenchmarkCommit_Prometheus(b *testing.B) {
	for _, tc := range []struct {
		name    string
		hooks   bool
		storage bool
	}{
		{"metrics=none", false, false},
		{"metrics=node", true, false},
		{"metrics=node+storage", true, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			m := prommetrics.New(nil)
			var engine storage.Engine = memory.New()
			var opts []core.Option
			if tc.storage {
				engine = m.InstrumentEngine(engine)
			}
			if tc.hooks {
				opts = append(opts, core.WithMetrics(m))
			}
			n, err := core.NewNode(ctx, engine, policy.Permissive{}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			c := n.Context(nil)
			trx := c.Begin()
			mut, err := trx.Create(ctx, "album")
			if err != nil {
				b.Fatal(err)
			}
			mut.Set("name", "x")
			if err := trx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			eid := mut.ID()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				trx := c.Begin()
				mut, err := trx.Edit(ctx, "album", eid)
				if err != nil {
					b.Fatal(err)
				}
				mut.Set("year", i)
				if err := trx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// nopEngine is an engine whose Apply does nothing, to time the wrapper.
type nopEngine struct{ storage.Engine }

func (nopEngine) Apply(context.Context, *storage.Batch) error { return nil }

// BenchmarkHooks times what metrics add to one local commit of one entity,
// apart from the commit: the node's two clock reads and its Commit and
// Notify calls, and the instrumented engine's timing of Apply (two more
// clock reads and a histogram observation) — against an Apply that does
// nothing, so the difference is the cost.
func BenchmarkHooks(b *testing.B) {
	ctx := context.Background()
	m := prommetrics.New(nil)
	batch := &storage.Batch{}
	b.Run("apply=bare", func(b *testing.B) {
		var e storage.Engine = nopEngine{}
		for b.Loop() {
			_ = e.Apply(ctx, batch)
		}
	})
	b.Run("apply=instrumented+node-hooks", func(b *testing.B) {
		e := m.InstrumentEngine(nopEngine{})
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			_ = e.Apply(ctx, batch)
			m.Notify(1, time.Since(start))
			m.Commit(core.CommitOK)
		}
	})
}
