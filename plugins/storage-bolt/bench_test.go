package bolt_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// benchEntities makes n distinct new entities (event and state each).
func benchEntities(b *testing.B, start, n int) ([]event.Event, []storage.StateWrite) {
	b.Helper()
	evs := make([]event.Event, n)
	sws := make([]storage.StateWrite, n)
	for i := range n {
		ev, s := genesis("album", uint64(start+i), map[string]value.Value{
			"name": value.String("Kind of Blue"), "year": value.Int(int64(1950 + i%70)),
		})
		evs[i], sws[i] = ev, storage.StateWrite{State: s}
	}
	return evs, sws
}

// rawPut is the baseline: one bbolt Update writing the same encoded events
// and states (already encoded, so it measures bbolt alone) into two buckets.
func rawPut(b *testing.B, db *bbolt.DB, evs []event.Event, sws []storage.StateWrite) func() error {
	b.Helper()
	type kv struct{ k, v []byte }
	var events, states []kv
	for i := range evs {
		raw, err := evs[i].Encode()
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.Sum256(raw)
		events = append(events, kv{h[:], raw})
	}
	for i := range sws {
		raw, err := sws[i].State.Encode()
		if err != nil {
			b.Fatal(err)
		}
		states = append(states, kv{sws[i].State.ID[:], raw})
	}
	return func() error {
		return db.Update(func(tx *bbolt.Tx) error {
			eb, err := tx.CreateBucketIfNotExists([]byte("events"))
			if err != nil {
				return err
			}
			sb, err := tx.CreateBucketIfNotExists([]byte("states"))
			if err != nil {
				return err
			}
			for _, p := range events {
				if err := eb.Put(p.k, p.v); err != nil {
					return err
				}
			}
			for _, p := range states {
				if err := sb.Put(p.k, p.v); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

func benchApply(b *testing.B, perOp int, indexed, noSync bool) {
	ctx := context.Background()
	e, _ := openTemp(b, bolt.WithNoSync(noSync))
	if indexed {
		if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
			b.Fatal(err)
		}
	}
	batches := make([]storage.Batch, b.N)
	for i := range batches {
		evs, sws := benchEntities(b, i*perOp, perOp)
		batches[i] = storage.Batch{Events: evs, States: sws}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.Apply(ctx, &batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "entities/s")
}

func benchRaw(b *testing.B, perOp int, noSync bool) {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bbolt.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	puts := make([]func() error, b.N)
	for i := range puts {
		evs, sws := benchEntities(b, i*perOp, perOp)
		puts[i] = rawPut(b, db, evs, sws)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := puts[i](); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "entities/s")
}

// BenchmarkApplyOne: one commit of one new entity against raw bbolt writing
// the same bytes; durable (fsync, the default) and with NoSync on both sides
// (which shows the CPU cost fsync hides).
func BenchmarkApplyOne(b *testing.B) { benchAll(b, 1) }

// BenchmarkApplyBatch1000: one commit of 1,000 new entities, as above.
func BenchmarkApplyBatch1000(b *testing.B) { benchAll(b, 1000) }

func benchAll(b *testing.B, perOp int) {
	for _, noSync := range []bool{false, true} {
		suffix := ""
		if noSync {
			suffix = "-nosync"
		}
		b.Run("bolt"+suffix, func(b *testing.B) { benchApply(b, perOp, false, noSync) })
		b.Run("bolt-indexed"+suffix, func(b *testing.B) { benchApply(b, perOp, true, noSync) })
		b.Run("raw-bbolt"+suffix, func(b *testing.B) { benchRaw(b, perOp, noSync) })
	}
}

// BenchmarkApplyPaired alternates one bolt Apply and one raw bbolt Update
// writing the same bytes, op by op, both durable, so that both see the same
// machine load; it reports each side's mean time and bolt's throughput as a
// fraction of raw bbolt's (raw/bolt time).
func BenchmarkApplyPaired(b *testing.B) {
	for _, perOp := range []int{1, 1000} {
		b.Run(fmt.Sprintf("entities=%d", perOp), func(b *testing.B) {
			ctx := context.Background()
			e, _ := openTemp(b)
			db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			batches := make([]storage.Batch, b.N)
			puts := make([]func() error, b.N)
			for i := range b.N {
				evs, sws := benchEntities(b, i*perOp, perOp)
				batches[i] = storage.Batch{Events: evs, States: sws}
				puts[i] = rawPut(b, db, evs, sws)
			}
			var boltTime, rawTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := e.Apply(ctx, &batches[i]); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := puts[i](); err != nil {
					b.Fatal(err)
				}
				boltTime += t1.Sub(t0)
				rawTime += time.Since(t1)
			}
			b.ReportMetric(float64(boltTime.Nanoseconds())/float64(b.N), "bolt-ns/op")
			b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(rawTime)/float64(boltTime), "bolt/raw-throughput")
		})
	}
}

// BenchmarkFetchStates reads from 10,000 entities with and without a declared
// index on year: an equality term, and an ORDER BY ... LIMIT that the index
// serves with an early stop.
func BenchmarkFetchStates(b *testing.B) {
	ctx := context.Background()
	for _, indexed := range []bool{false, true} {
		e, _ := openTemp(b, bolt.WithNoSync(true))
		evs, sws := benchEntities(b, 0, 10_000)
		if err := e.Apply(ctx, &storage.Batch{Events: evs, States: sws}); err != nil {
			b.Fatal(err)
		}
		if indexed {
			if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
				b.Fatal(err)
			}
		}
		c, err := e.Collection(ctx, "album")
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []string{"year = 1960", "year > 1960 ORDER BY year DESC LIMIT 10"} {
			sel := mustBound(b, q)
			b.Run(fmt.Sprintf("indexed=%v/%s", indexed, q), func(b *testing.B) {
				for b.Loop() {
					if _, err := c.FetchStates(ctx, sel); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkApplyFeedPaired measures what the change log costs a commit:
// it alternates, op by op, one Apply on a file with the log (every file
// Open makes) and one on a file without it (the baseline, opened with the
// test-only WithoutChangeFeed), writing the same batches, so that both see
// the same machine load. It reports each side's mean time and the ratio
// (feed/nofeed time), durable (fsync) and with NoSync (which shows the CPU
// and write-volume cost fsync hides). The log keeps 64 batches, so most of
// a run is the steady state of a long-running file: each commit appends one
// entry and deletes the oldest.
func BenchmarkApplyFeedPaired(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		for _, perOp := range []int{1, 100} {
			b.Run(fmt.Sprintf("nosync=%v/entities=%d", noSync, perOp), func(b *testing.B) {
				ctx := context.Background()
				feed, _ := openTemp(b, bolt.WithNoSync(noSync), bolt.WithFeedRetention(64))
				plain, _ := openTemp(b, bolt.WithNoSync(noSync), bolt.WithoutChangeFeed())
				if _, err := plain.FeedHead(ctx); err == nil {
					b.Fatal("the baseline file keeps a change log")
				}
				fb := make([]storage.Batch, b.N)
				pb := make([]storage.Batch, b.N)
				for i := range b.N {
					evs, sws := benchEntities(b, i*perOp, perOp)
					fb[i] = storage.Batch{Events: evs, States: sws}
					pb[i] = storage.Batch{Events: evs, States: sws}
				}
				var feedTime, plainTime time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					first, second, ft, pt := feed, plain, &feedTime, &plainTime
					fbi, pbi := &fb[i], &pb[i]
					if i%2 == 1 { // alternate which goes first
						first, second, ft, pt = plain, feed, &plainTime, &feedTime
						fbi, pbi = pbi, fbi
					}
					t0 := time.Now()
					if err := first.Apply(ctx, fbi); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if err := second.Apply(ctx, pbi); err != nil {
						b.Fatal(err)
					}
					*ft += t1.Sub(t0)
					*pt += time.Since(t1)
				}
				b.ReportMetric(float64(feedTime.Nanoseconds())/float64(b.N), "feed-ns/op")
				b.ReportMetric(float64(plainTime.Nanoseconds())/float64(b.N), "nofeed-ns/op")
				b.ReportMetric(float64(feedTime)/float64(plainTime), "feed/nofeed-time")
			})
		}
	}
}
