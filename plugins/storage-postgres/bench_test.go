package postgres_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// benchBatch makes a batch creating n entities (name, year, meta) labelled
// by seq so that every batch is new.
func benchBatch(collection string, seq, n int) *storage.Batch {
	b := &storage.Batch{}
	for i := range n {
		var nonce [event.NonceSize]byte
		binary.BigEndian.PutUint64(nonce[:], uint64(seq))
		binary.BigEndian.PutUint64(nonce[8:], uint64(i))
		ev := event.NewGenesis(collection, map[string][]byte{"lww": []byte("ops")}, nonce[:], 1_700_000_000_000)
		k := seq*n + i
		b.Events = append(b.Events, ev)
		b.States = append(b.States, storage.StateWrite{State: entity.State{
			ID: ev.Entity, Collection: collection, Head: event.NewClock(ev.ID()),
			Backends: entity.BackendsOf(map[string][]byte{"lww": make([]byte, 64)}),
			Values: value.FieldsOf(map[string]value.Value{
				"name": value.String(fmt.Sprintf("name-%d", k%10000)),
				"year": value.Int(int64(1950 + k%70)),
				"meta": value.MustJSON(fmt.Sprintf(`{"tracks":%d,"label":"l%d"}`, k%20, k%7)),
			}),
		}})
	}
	return b
}

// rawRows is what the raw baseline writes for a batch: the same rows and
// columns the engine writes, encoded beforehand.
func rawRows(b *storage.Batch) (states, events [][]any) {
	for _, sw := range b.States {
		s := sw.State
		enc, _ := s.Encode()
		head, _ := event.EncodeClock(s.Head)
		name, _ := s.Values.Get("name").AsString()
		year, _ := s.Values.Get("year").AsInt()
		meta, _ := s.Values.Get("meta").AsJSON()
		states = append(states, []any{s.ID[:], head, enc, false, name, fmt.Sprint(year), string(meta), string(meta)})
	}
	for _, ev := range b.Events {
		enc, _ := ev.Encode()
		eid := ev.ID()
		events = append(events, []any{eid[:], ev.Entity[:], enc})
	}
	return states, events
}

// BenchmarkApply1000 writes batches of 1,000 new entities through the
// engine and, as the baseline, the same rows with pgx CopyFrom into tables
// of the same shape, in one transaction per batch.
func BenchmarkApply1000(b *testing.B) {
	ctx := context.Background()
	e := openEngine(b)
	pool := e.Pool()
	mustCollection(b, e, "bench")
	// Create the property columns up front, like the raw tables.
	mustApply(b, e, benchBatch("bench", -1, 1))
	raw, rawEv := pgx.Identifier{e.Schema(), "raw"}, pgx.Identifier{e.Schema(), "raw#ev"}
	for _, q := range []string{
		`CREATE TABLE ` + raw.Sanitize() + ` (id bytea PRIMARY KEY, head bytea NOT NULL, state bytea NOT NULL, residual boolean NOT NULL DEFAULT false, "name#s" text COLLATE "C", "year#n" numeric, "meta#jc" text COLLATE "C", "meta#j" jsonb)`,
		`CREATE TABLE ` + rawEv.Sanitize() + ` (id bytea PRIMARY KEY, entity bytea NOT NULL, event bytea NOT NULL)`,
		`CREATE INDEX ON ` + rawEv.Sanitize() + ` (entity)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	seq := 0
	copyRaw := func(states, events [][]any) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, rawEv, []string{"id", "entity", "event"}, pgx.CopyFromRows(events)); err != nil {
				return err
			}
			_, err := tx.CopyFrom(ctx, raw, []string{"id", "head", "state", "residual", "name#s", "year#n", "meta#jc", "meta#j"}, pgx.CopyFromRows(states))
			return err
		})
	}
	// Each iteration writes one batch through the engine and one through
	// raw pgx, so both see the same machine load; the metrics are the
	// mean time of each side per batch and their ratio.
	var engine, rawTime time.Duration
	for b.Loop() {
		b.StopTimer()
		seq++
		batch := benchBatch("bench", seq, 1000)
		seq++
		states, events := rawRows(benchBatch("bench", seq, 1000))
		b.StartTimer()
		t0 := time.Now()
		if err := e.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := copyRaw(states, events); err != nil {
			b.Fatal(err)
		}
		engine += t1.Sub(t0)
		rawTime += time.Since(t1)
	}
	b.ReportMetric(float64(engine.Milliseconds())/float64(b.N), "engine-ms/batch")
	b.ReportMetric(float64(rawTime.Milliseconds())/float64(b.N), "raw-copy-ms/batch")
	b.ReportMetric(float64(rawTime)/float64(engine)*100, "engine-%-of-raw-speed")
}

// BenchmarkFetchEq100k fetches `name = ?` (10 matches) from 100,000
// entities with an index declared on name, through the engine and, as the
// baseline, the same SELECT with pgx returning the state bytes.
func BenchmarkFetchEq100k(b *testing.B) {
	ctx := context.Background()
	e := openEngine(b)
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "bench", Property: "name"}); err != nil {
		b.Fatal(err)
	}
	c := mustCollection(b, e, "bench")
	for seq := range 100 {
		mustApply(b, e, benchBatch("bench", seq, 1000))
	}
	// Settle the table (hint bits, visibility map, statistics) so that
	// neither side pays for the load.
	if _, err := e.Pool().Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{e.Schema(), "bench"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	sel, err := query.Parse("name = ?")
	if err != nil {
		b.Fatal(err)
	}
	q := `SELECT state FROM ` + pgx.Identifier{e.Schema(), "bench"}.Sanitize() + ` WHERE "name#s" = $1 ORDER BY id`
	// Each iteration runs the engine's fetch, the raw SELECT, and the raw
	// SELECT plus decoding the states, on the same name, so all three see
	// the same machine load.
	var engine, rawTime, decodeTime time.Duration
	i := 0
	for b.Loop() {
		i++
		name := fmt.Sprintf("name-%d", i%10000)
		t0 := time.Now()
		bound, err := sel.Bind(name)
		if err != nil {
			b.Fatal(err)
		}
		states, err := c.FetchStates(ctx, bound)
		if err != nil || len(states) != 10 {
			b.Fatalf("%d states, %v", len(states), err)
		}
		t1 := time.Now()
		rows, err := e.Pool().Query(ctx, q, name)
		if err != nil {
			b.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil || len(got) != 10 {
			b.Fatalf("%d rows, %v", len(got), err)
		}
		t2 := time.Now()
		rows, err = e.Pool().Query(ctx, q, name)
		if err != nil {
			b.Fatal(err)
		}
		decoded, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entity.State, error) {
			return entity.Decode(r.RawValues()[0])
		})
		if err != nil || len(decoded) != 10 {
			b.Fatalf("%d rows, %v", len(decoded), err)
		}
		engine += t1.Sub(t0)
		rawTime += t2.Sub(t1)
		decodeTime += time.Since(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(engine.Microseconds())/n, "engine-µs/op")
	b.ReportMetric(float64(rawTime.Microseconds())/n, "raw-select-µs/op")
	b.ReportMetric(float64(decodeTime.Microseconds())/n, "raw-select+decode-µs/op")
	b.ReportMetric(float64(engine)/float64(rawTime), "engine/raw")
	b.ReportMetric(float64(engine)/float64(decodeTime), "engine/raw+decode")
}
