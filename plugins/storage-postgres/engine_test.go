package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

// update is the batch moving st (at head prev) to a child event with values.
func update(st entity.State, label string, values map[string]value.Value) (*storage.Batch, entity.State) {
	ev := event.Event{Collection: st.Collection, Entity: st.ID, Parent: st.Head,
		Operations: map[string][]byte{"lww": []byte(label)}}
	next := st.Clone()
	next.Head = st.Head.Advance(ev.ID(), ev.Parent)
	next.Values = value.FieldsOf(values)
	return &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: next, Expected: st.Head}}}, next
}

func TestColumns_AddedOnTheFlyAndSeenByOtherEngines(t *testing.T) {
	ctx := context.Background()
	a := openEngine(t)
	other, err := postgres.Open(ctx, pgtest.URL(t), postgres.WithSchema(a.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ca := mustCollection(t, a, "albums")
	cb := mustCollection(t, other, "albums") // its column cache is now stale

	one := create(genesis("albums", "one"), map[string]value.Value{"x": value.Int(1)})
	mustApply(t, a, one)
	if got := fetchIDs(t, cb, "y = 'a'"); len(got) != 0 {
		t.Fatalf("query on a property no entity has: %v", got)
	}
	two := create(genesis("albums", "two"), map[string]value.Value{"y": value.String("a"), "x": value.String("1")})
	mustApply(t, a, two)
	idOne, idTwo := one.States[0].State.ID, two.States[0].State.ID
	for name, c := range map[string]storage.Collection{"writer": ca, "other engine": cb} {
		if got := fetchIDs(t, c, "y = 'a'"); !slices.Equal(got, []id.EntityID{idTwo}) {
			t.Errorf("%s: y = 'a' gave %v, want two", name, got)
		}
		// x holds an int in one entity and a string in the other.
		if got := fetchIDs(t, c, "x = 1"); !slices.Equal(got, []id.EntityID{idOne}) {
			t.Errorf("%s: x = 1 gave %v, want one", name, got)
		}
		if got := fetchIDs(t, c, "x = '1'"); !slices.Equal(got, []id.EntityID{idTwo}) {
			t.Errorf("%s: x = '1' gave %v, want two", name, got)
		}
	}
	// A kind change empties the old column: the old value no longer matches.
	b, _ := update(one.States[0].State, "retype", map[string]value.Value{"x": value.Bool(true)})
	mustApply(t, other, b)
	if got := fetchIDs(t, ca, "x = 1"); len(got) != 0 {
		t.Errorf("x = 1 after x became a bool: %v", got)
	}
	if got := fetchIDs(t, ca, "x = true"); !slices.Equal(got, []id.EntityID{idOne}) {
		t.Errorf("x = true gave %v, want one", got)
	}
	var cols []string
	rows, err := a.Pool().Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'albums' ORDER BY 1`, a.Schema())
	if err == nil {
		cols, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"head", "id", "residual", "state", "x#b", "x#n", "x#s", "y#s"}
	if !slices.Equal(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
}

// hostile names: quotes, SQL, unicode, reserved characters of the name
// mapping, NUL, and names longer than PostgreSQL's 63-byte identifiers
// (two of them sharing a long prefix).
var hostile = []string{
	`plain`,
	`a"b`,
	`x'; DROP TABLE plain; --`,
	`Robert"); DROP SCHEMA public CASCADE; --`,
	`名前 🎵`,
	`a#b`, `a#ev`, `#format`, `a~0123456789abcdef`,
	"nul\x00byte", "nulbyte",
	strings.Repeat("long", 20) + "1",
	strings.Repeat("long", 20) + "2",
	`Case`, `case`,
}

func TestNames_HostileNamesAndValuesAreInert(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	want := map[string]id.EntityID{}
	for _, coll := range hostile {
		c := mustCollection(t, e, coll)
		values := map[string]value.Value{}
		for i, p := range hostile {
			values[p] = value.String(fmt.Sprintf("%s'); DROP TABLE %q; -- %d", coll, p, i))
		}
		b := create(genesis(coll, "x"), values)
		mustApply(t, e, b)
		want[coll] = b.States[0].State.ID
		got, err := c.GetState(ctx, want[coll])
		if err != nil {
			t.Fatalf("GetState in %q: %v", coll, err)
		}
		if got.Values.Len() != len(values) {
			t.Errorf("%q: %d values back, want %d", coll, got.Values.Len(), len(values))
		}
	}
	for _, coll := range hostile {
		c := mustCollection(t, e, coll)
		if got := fetchIDs(t, c, "true"); !slices.Equal(got, []id.EntityID{want[coll]}) {
			t.Errorf("collection %q holds %v, want only its own entity", coll, got)
		}
		for i, p := range hostile {
			if strings.Contains(p, "\x00") {
				continue // AnkQL has no way to write NUL in a name
			}
			q := `"` + strings.ReplaceAll(p, `"`, `""`) + `" = ?`
			arg := fmt.Sprintf("%s'); DROP TABLE %q; -- %d", coll, p, i)
			if got := fetchIDs(t, c, q, arg); !slices.Equal(got, []id.EntityID{want[coll]}) {
				t.Errorf("%q: %s gave %v", coll, q, got)
			}
			if got := fetchIDs(t, c, q, arg+"x"); len(got) != 0 {
				t.Errorf("%q: %s with another value gave %v", coll, q, got)
			}
		}
	}
	var n int
	if err := e.Pool().QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'").Scan(&n); err != nil || n != 1 {
		t.Errorf("schema public: %d, %v", n, err)
	}
}

func TestApply_RacingEnginesOneConflictsNothingLost(t *testing.T) {
	ctx := context.Background()
	a := openEngine(t)
	b, err := postgres.Open(ctx, pgtest.URL(t), postgres.WithSchema(a.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	engines := []*postgres.Engine{a, b}
	first := create(genesis("race", "e"), map[string]value.Value{"n": value.Int(0)})
	mustApply(t, a, first)
	st := first.States[0].State
	c := mustCollection(t, b, "race")
	for round := range 10 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		nexts := make([]entity.State, 2)
		start := make(chan struct{})
		for i, e := range engines {
			batch, next := update(st, fmt.Sprintf("round %d engine %d", round, i), map[string]value.Value{"n": value.Int(int64(round*10 + i))})
			nexts[i] = next
			wg.Go(func() {
				<-start
				errs[i] = e.Apply(ctx, batch)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both engines wrote on the same head", round)
				}
				winner = i
			case !errors.Is(err, storage.ErrConflict):
				t.Fatalf("round %d: engine %d: %v, want ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			// Both may lose only to a deadlock, which is reported as a
			// conflict; then nothing was written and the round is retried.
			continue
		}
		got, err := c.GetState(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Head.Equal(nexts[winner].Head) || !value.Equal(got.Values.Get("n"), nexts[winner].Values.Get("n")) {
			t.Fatalf("round %d: stored %v %v, want the winner's %v", round, got.Head, got.Values.Get("n"), nexts[winner].Head)
		}
		// The loser retries on the new head and succeeds.
		loser := 1 - winner
		retry, next := update(got, fmt.Sprintf("round %d retry", round), map[string]value.Value{"n": value.Int(int64(round*10 + 5))})
		if err := engines[loser].Apply(ctx, retry); err != nil {
			t.Fatalf("round %d: retry: %v", round, err)
		}
		st = next
	}
	evs, err := c.EntityEvents(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1+2*10 {
		t.Errorf("%d events stored, want genesis plus a winner and a retry per round (21)", len(evs))
	}
}

func TestOpen_RefusesNewerFormat(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	if _, err := e.Pool().Exec(ctx, "UPDATE "+pgx.Identifier{e.Schema(), "#format"}.Sanitize()+" SET version = $1", postgres.FormatVersion+1); err != nil {
		t.Fatal(err)
	}
	again, err := postgres.Open(ctx, pgtest.URL(t), postgres.WithSchema(e.Schema()))
	if err == nil {
		again.Close()
		t.Fatal("Open of a newer format succeeded")
	}
	if !errors.Is(err, storage.ErrFormat) {
		t.Errorf("Open: %v, want ErrFormat", err)
	}
}

func TestColumns_ConcurrentWritersAddingColumns(t *testing.T) {
	ctx := context.Background()
	a := openEngine(t)
	b, err := postgres.Open(ctx, pgtest.URL(t), postgres.WithSchema(a.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 8 {
		e := []*postgres.Engine{a, b}[w%2]
		wg.Go(func() {
			for i := range 4 {
				values := map[string]value.Value{
					"shared":                    value.Int(int64(i)),
					fmt.Sprintf("p%d", i):       value.String("same name, several writers"),
					fmt.Sprintf("w%d_%d", w, i): value.Bool(true),
				}
				if err := e.Apply(ctx, create(genesis("cols", fmt.Sprint(w, "/", i)), values)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Apply: %v", err)
	}
	c := mustCollection(t, a, "cols")
	if got := fetchIDs(t, c, "p3 = 'same name, several writers'"); len(got) != 8 {
		t.Errorf("p3 matched %d entities, want 8", len(got))
	}
	if got := fetchIDs(t, c, "w7_3 = true"); len(got) != 1 {
		t.Errorf("w7_3 matched %d entities, want 1", len(got))
	}
}

func TestDeclareIndex_MakesSQLIndexes(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatal(err)
	}
	// Declaring again is a no-op.
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatal(err)
	}
	rows, err := e.Pool().Query(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'album' AND indexdef LIKE '%year#%' ORDER BY 1`, e.Schema())
	if err != nil {
		t.Fatal(err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 6 { // one per kind that orders: bool, number, string, bytes, json text, ref
		t.Errorf("%d indexes on year, want 6: %v", len(defs), defs)
	}
	for _, d := range defs {
		if !strings.Contains(d, ", id)") {
			t.Errorf("index %q does not end with id (the tie order)", d)
		}
	}
}
