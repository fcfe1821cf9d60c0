package storageplugin_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// benchEngines are the same engines in process and through the plugin
// boundary, so each pair is measured in the same run.
func benchEngines(b *testing.B) []struct {
	name string
	open func(b *testing.B) storage.Engine
} {
	plugin := func(name string, args func(dir string) []string) func(b *testing.B) storage.Engine {
		return func(b *testing.B) storage.Engine {
			var opts []storageplugin.Option
			if args != nil {
				opts = append(opts, storageplugin.WithArgs(args(b.TempDir())...))
			}
			e, err := storageplugin.Open(context.Background(), bin(b, name), opts...)
			if err != nil {
				b.Fatal(err)
			}
			return e
		}
	}
	return []struct {
		name string
		open func(b *testing.B) storage.Engine
	}{
		{"memory/in-process", func(*testing.B) storage.Engine { return memory.New() }},
		{"memory/plugin", plugin("ankurah-storage-memory", nil)},
		{"bolt/in-process", func(b *testing.B) storage.Engine {
			e, err := bolt.Open(context.Background(), filepath.Join(b.TempDir(), "data.db"))
			if err != nil {
				b.Fatal(err)
			}
			return e
		}},
		{"bolt/plugin", plugin("ankurah-storage-bolt", func(dir string) []string { return []string{filepath.Join(dir, "data.db")} })},
	}
}

// entityBatch makes a batch that creates n entities of collection.
func entityBatch(collection, prefix string, n int) *storage.Batch {
	b := &storage.Batch{}
	for i := range n {
		ev, st := created(collection, fmt.Sprintf("%s-%d", prefix, i), map[string]value.Value{
			"n":     value.Int(int64(i)),
			"name":  value.String(fmt.Sprintf("entity %d", i)),
			"group": value.String(fmt.Sprintf("g%02d", i%50)),
		})
		b.Events = append(b.Events, ev)
		b.States = append(b.States, storage.StateWrite{State: st})
	}
	return b
}

// BenchmarkApply1000 applies batches of 1,000 new entities (1,000 events
// and 1,000 states each).
func BenchmarkApply1000(b *testing.B) {
	const n = 1000
	for _, eng := range benchEngines(b) {
		b.Run(eng.name, func(b *testing.B) {
			e := eng.open(b)
			defer e.Close()
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batch := entityBatch("bench", fmt.Sprintf("apply%d", i), n)
				b.StartTimer()
				if err := e.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entities/s")
		})
	}
}

// BenchmarkFetchStates10000 fetches all 10,000 entities of a collection.
func BenchmarkFetchStates10000(b *testing.B) {
	const n = 10000
	sel, err := query.ParseBound("true")
	if err != nil {
		b.Fatal(err)
	}
	for _, eng := range benchEngines(b) {
		b.Run(eng.name, func(b *testing.B) {
			e := eng.open(b)
			defer e.Close()
			ctx := context.Background()
			if err := e.Apply(ctx, entityBatch("bench", "fetch", n)); err != nil {
				b.Fatal(err)
			}
			c, err := e.Collection(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				states, err := c.FetchStates(ctx, sel)
				if err != nil {
					b.Fatal(err)
				}
				if len(states) != n {
					b.Fatalf("fetched %d states, want %d", len(states), n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entities/s")
		})
	}
}
