package tikv

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tikv/client-go/v2/testutils"
	tikvstore "github.com/tikv/client-go/v2/tikv"
	"github.com/tikv/client-go/v2/txnkv"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// The benchmarks run on client-go's in-process store and pair each engine
// operation with the raw txnkv operations on the same keys and bytes, in the
// same run (see docs/benchmarks.md).

// cpuTime is the process's user+system CPU time so far: on a machine shared
// with other builds it is steadier than wall time. It includes the
// in-process store's work (and its background compaction).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerEntity adds ns/entity (wall) and cpu-ns/entity since cpu0.
func reportPerEntity(b *testing.B, cpu0 time.Duration, perOp int) {
	n := float64(b.N * perOp)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/entity")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/n, "cpu-ns/entity")
}

func benchClient(b *testing.B) *txnkv.Client {
	b.Helper()
	rpc, cluster, pd, err := testutils.NewMockTiKV("", nil)
	if err != nil {
		b.Fatal(err)
	}
	testutils.BootstrapWithSingleStore(cluster)
	store, err := tikvstore.NewTestTiKVStore(rpc, pd, nil, nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	return &txnkv.Client{KVStore: store}
}

// benchBatch makes n new entities of collection "bench" with an int n and a
// string name; seed keeps batches of different calls distinct.
func benchBatch(seed, n int) *storage.Batch {
	bt := &storage.Batch{}
	for i := range n {
		nonce := make([]byte, event.NonceSize)
		binary.BigEndian.PutUint64(nonce, uint64(seed))
		binary.BigEndian.PutUint64(nonce[8:], uint64(i))
		g := event.NewGenesis("bench", map[string][]byte{"lww": []byte("create")}, nonce, 1_700_000_000_000)
		bt.Events = append(bt.Events, g)
		bt.States = append(bt.States, storage.StateWrite{State: entity.State{
			ID: g.Entity, Collection: "bench", Head: event.NewClock(g.ID()),
			Backends: entity.BackendsOf(map[string][]byte{"lww": make([]byte, 64)}),
			Values:   value.FieldsOf(map[string]value.Value{"n": value.Int(int64(seed*n + i)), "name": value.String(fmt.Sprintf("entity %d", seed*n+i))}),
		}})
	}
	return bt
}

// keys builds the engine's keys (core/storage/kv's layout under prefix‖0x00)
// for the raw baselines.
type keys struct{ root []byte }

func newKeys(prefix string) keys { return keys{root: []byte(prefix + "\x00")} }

func (k keys) coll(tag byte, coll string) []byte {
	return keyenc.AppendString(append(slices.Clone(k.root), tag), coll)
}
func (k keys) state(coll string, e id.EntityID) []byte { return append(k.coll('s', coll), e[:]...) }
func (k keys) event(coll string, e id.EventID) []byte  { return append(k.coll('e', coll), e[:]...) }
func (k keys) index(coll, prop string) []byte          { return keyenc.AppendString(k.coll('i', coll), prop) }

var present = []byte{1}

func indexEntry(ix []byte, v value.Value, e id.EntityID) []byte {
	return append(keyenc.Append(slices.Clone(ix), v), e[:]...)
}

// rawWrites returns the keys and values Apply writes for a batch of new
// entities with an index on n (a genesis event needs no entity→event link).
func rawWrites(k keys, bt *storage.Batch) (ks, vs [][]byte) {
	ix := k.index("bench", "n")
	for i := range bt.Events {
		ev := &bt.Events[i]
		enc, _ := ev.Encode()
		ks = append(ks, k.event("bench", ev.ID()))
		vs = append(vs, enc)
	}
	for i := range bt.States {
		s := &bt.States[i].State
		enc, _ := s.Encode()
		ks = append(ks, k.state("bench", s.ID), indexEntry(ix, s.Values.Get("n"), s.ID))
		vs = append(vs, enc, present)
	}
	return ks, vs
}

// seeds makes every benchmark batch new, across -count runs too.
var seeds atomic.Int64

func BenchmarkApplyBatch1000(b *testing.B) {
	ctx := context.Background()
	client := benchClient(b)
	defer client.Close()
	const n = 1000

	b.Run("engine", func(b *testing.B) {
		e, err := New(ctx, client, WithKeyPrefix("engine"))
		if err != nil {
			b.Fatal(err)
		}
		if err := e.DeclareIndex(ctx, storage.Index{Collection: "bench", Property: "n"}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			b.StopTimer()
			bt := benchBatch(int(seeds.Add(1)), n)
			b.StartTimer()
			if err := e.Apply(ctx, bt); err != nil {
				b.Fatal(err)
			}
		}
		reportPerEntity(b, cpu0, n)
	})
	b.Run("raw-txnkv-set", func(b *testing.B) {
		k := newKeys("raw")
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			b.StopTimer()
			ks, vs := rawWrites(k, benchBatch(int(seeds.Add(1)), n))
			b.StartTimer()
			txn, err := client.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for j := range ks {
				if err := txn.Set(ks[j], vs[j]); err != nil {
					b.Fatal(err)
				}
			}
			if err := txn.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reportPerEntity(b, cpu0, n)
	})
}

// fetchData is 100,000 entities with an index on n, loaded once per process.
var fetchData struct {
	once   sync.Once
	client *txnkv.Client
	e      *Engine
	err    error
}

const fetchEntities, fetchRange = 100_000, 1_000

func BenchmarkIndexedRangeFetch100k(b *testing.B) {
	ctx := context.Background()
	fetchData.once.Do(func() {
		fetchData.client = benchClient(b)
		e, err := New(ctx, fetchData.client, WithKeyPrefix("fetch"))
		if err != nil {
			fetchData.err = err
			return
		}
		if err := e.DeclareIndex(ctx, storage.Index{Collection: "bench", Property: "n"}); err != nil {
			fetchData.err = err
			return
		}
		for i := range fetchEntities / 1000 { // n runs 0..fetchEntities-1
			if err := e.Apply(ctx, benchBatch(i, 1000)); err != nil {
				fetchData.err = err
				return
			}
		}
		fetchData.e = e
	})
	if fetchData.err != nil {
		b.Fatal(fetchData.err)
	}
	e, client := fetchData.e, fetchData.client
	sel, err := query.Parse("n >= ? AND n < ? ORDER BY n")
	if err != nil {
		b.Fatal(err)
	}
	lo := func(i int) int { return (i * 7919) % (fetchEntities - fetchRange) }

	b.Run("engine", func(b *testing.B) {
		c, _ := e.Collection(ctx, "bench")
		b.ReportAllocs()
		cpu0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			bound, err := sel.Bind(lo(i), lo(i)+fetchRange)
			if err != nil {
				b.Fatal(err)
			}
			states, err := c.FetchStates(ctx, bound)
			if err != nil {
				b.Fatal(err)
			}
			if len(states) != fetchRange {
				b.Fatalf("%d states, want %d", len(states), fetchRange)
			}
		}
		reportPerEntity(b, cpu0, fetchRange)
	})
	b.Run("raw-txnkv-iter", func(b *testing.B) {
		// The same index scan and state reads, without planning, decoding
		// or filtering.
		k := newKeys("fetch")
		ix := k.index("bench", "n")
		b.ReportAllocs()
		cpu0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			ts, err := client.GetTimestamp(ctx)
			if err != nil {
				b.Fatal(err)
			}
			snap := client.GetSnapshot(ts)
			snap.SetScanBatchSize(DefaultScanBatchSize)
			start := keyenc.Append(append([]byte(nil), ix...), value.Int(int64(lo(i))))
			end := keyenc.Append(append([]byte(nil), ix...), value.Int(int64(lo(i)+fetchRange)))
			it, err := snap.Iter(start, end)
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			var batch [][]byte
			read := func() {
				m, err := snap.BatchGet(ctx, batch)
				if err != nil {
					b.Fatal(err)
				}
				got += len(m)
				batch = batch[:0]
			}
			for it.Valid() {
				key := it.Key()
				batch = append(batch, k.state("bench", id.EntityID(key[len(key)-id.Size:])))
				if len(batch) == DefaultScanBatchSize {
					read()
				}
				if err := it.Next(); err != nil {
					b.Fatal(err)
				}
			}
			it.Close()
			read()
			if got != fetchRange {
				b.Fatalf("%d states, want %d", got, fetchRange)
			}
		}
		reportPerEntity(b, cpu0, fetchRange)
	})
}
