package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	postgres "github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

// BenchmarkTraversal_ArtistName is issue 18's traversal benchmark: a
// durable node asks `artist.name = ?` of albums (10 albums per artist),
// beside the same question asked of a denormalized copy of the name on
// each album (`artist_name = ?`), on memory, bolt and PostgreSQL — the
// last with traversal evaluated as a join (postgres-joins) and resolved by
// the node to `artist IN (ids)` (postgres-ids, postgres.WithoutTraversalJoins),
// both over the same tables. Indexes: album.artist, artist.name,
// album.artist_name.
//
// One iteration asks every question of its engine once, for the same
// artist, in an order that alternates between iterations, so the sides
// share the machine's load; each side's mean time is reported as a metric
// (traversal-µs, joins-µs, ids-µs, denormalized-µs) with the ratio to the
// denormalized fetch. ns/op is the whole iteration.
//
// The default size is 10,000 albums by 1,000 artists; TRAVERSAL_BENCH_ALBUMS
// sets the albums (100000 is the size: 100,000 albums by 10,000
// artists). PostgreSQL is a throwaway server (or PG_TEST_URL); without one
// the postgres row is skipped, and under CI=true that fails.
func BenchmarkTraversal_ArtistName(b *testing.B) {
	const perArtist = 10
	albums := envInt(b, "TRAVERSAL_BENCH_ALBUMS", 10_000)
	artists := albums / perArtist
	ctx := context.Background()

	open := func(b *testing.B, e storage.Engine, load bool) *core.Context {
		for _, ix := range []storage.Index{{Collection: "album", Property: "artist"}, {Collection: "artist", Property: "name"}, {Collection: "album", Property: "artist_name"}} {
			if err := e.(storage.Indexer).DeclareIndex(ctx, ix); err != nil {
				b.Fatal(err)
			}
		}
		n, err := core.NewNode(ctx, e, policy.Permissive{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Close(); _ = e.Close() })
		if err := n.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
			b.Fatal(err)
		}
		c := n.Context(nil)
		if load {
			loadMusic(b, c, artists, perArtist)
		}
		return c
	}
	type side struct {
		name, q string
		c       *core.Context
	}
	run := func(b *testing.B, sides []side) {
		spent := make([]time.Duration, len(sides))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			name := fmt.Sprintf("artist %d", (i*7919)%artists)
			for j := range sides {
				k := (i + j) % len(sides) // each side first in turn
				t0 := time.Now()
				vs, err := sides[k].c.Fetch(ctx, "album", sides[k].q, name)
				spent[k] += time.Since(t0)
				if err != nil || len(vs) != perArtist {
					b.Fatalf("%s: %d albums, %v", sides[k].name, len(vs), err)
				}
			}
		}
		base := spent[len(sides)-1]
		for k, s := range sides {
			b.ReportMetric(float64(spent[k].Microseconds())/float64(b.N), s.name+"-µs")
			if k < len(sides)-1 {
				b.ReportMetric(float64(spent[k])/float64(base), s.name+"/denormalized")
			}
		}
	}
	b.Run("memory", func(b *testing.B) {
		c := open(b, memory.New(), true)
		run(b, []side{{"traversal", "artist.name = ?", c}, {"denormalized", "artist_name = ?", c}})
	})
	b.Run("bolt", func(b *testing.B) {
		e, err := bolt.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		c := open(b, e, true)
		run(b, []side{{"traversal", "artist.name = ?", c}, {"denormalized", "artist_name = ?", c}})
	})
	b.Run("postgres", func(b *testing.B) {
		url := postgresFor(b)
		schema := pgtest.SchemaName(b.Name())
		joins, err := postgres.Open(ctx, url, postgres.WithSchema(schema))
		if err != nil {
			b.Fatal(err)
		}
		cj := open(b, joins, true)
		ids, err := postgres.Open(ctx, url, postgres.WithSchema(schema), postgres.WithoutTraversalJoins())
		if err != nil {
			b.Fatal(err)
		}
		ci := open(b, ids, false) // the same tables
		analyze(b, url, schema)   // fresh statistics, as autovacuum would give a loaded table
		run(b, []side{{"joins", "artist.name = ?", cj}, {"ids", "artist.name = ?", ci}, {"denormalized", "artist_name = ?", cj}})
	})
}

// loadMusic commits artists and their albums, in transactions of 5,000.
func loadMusic(b *testing.B, c *core.Context, artists, perArtist int) {
	ctx := context.Background()
	ids := make([]id.EntityID, 0, artists)
	for start := 0; start < artists; start += 5000 {
		trx := c.Begin()
		var muts []*core.Mut
		for i := start; i < min(artists, start+5000); i++ {
			m, err := trx.Create(ctx, "artist")
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Set("name", fmt.Sprintf("artist %d", i))
			muts = append(muts, m)
		}
		if err := trx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		for _, m := range muts {
			ids = append(ids, m.ID())
		}
	}
	total := artists * perArtist
	for start := 0; start < total; start += 5000 {
		trx := c.Begin()
		for i := start; i < min(total, start+5000); i++ {
			m, err := trx.Create(ctx, "album")
			if err != nil {
				b.Fatal(err)
			}
			_ = m.Set("title", fmt.Sprintf("album %d", i))
			_ = m.Set("artist", value.Ref(ids[i%artists]))
			_ = m.Set("artist_name", fmt.Sprintf("artist %d", i%artists))
		}
		if err := trx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// analyze refreshes the planner statistics of a schema's tables.
func analyze(b *testing.B, url, schema string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname = $1", schema)
	if err != nil {
		b.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "ANALYZE "+t); err != nil {
			b.Fatal(err)
		}
	}
}
