package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres"
)

// badFixture is a collection "album" with three good entities (n = 1, 2, 3)
// and, inserted with raw SQL as an older build could have written them, two
// states that do not decode — one of 70,000 properties, one garbage — whose
// n column (0) sorts them first, and an event that does not decode.
type badFixture struct {
	e                *postgres.Engine
	good             []id.EntityID // by n
	garbage, tooMany id.EntityID
	badEvent         id.EventID
}

func newBadFixture(t *testing.T) badFixture {
	t.Helper()
	ctx := context.Background()
	// The skipped rows' warnings would drown the test's output.
	e := openEngine(t, postgres.WithLogger(slog.New(slog.DiscardHandler)))
	f := badFixture{e: e,
		garbage:  id.EntityID(sha256.Sum256([]byte("garbage"))),
		tooMany:  id.EntityID(sha256.Sum256([]byte("too many"))),
		badEvent: id.EventID(sha256.Sum256([]byte("bad event"))),
	}
	for n := range 3 {
		ev := genesis("album", fmt.Sprint(n))
		mustApply(t, e, create(ev, map[string]value.Value{"n": value.Int(int64(n + 1))}))
		f.good = append(f.good, ev.Entity)
	}
	values := make(map[string]value.Value, 70_000)
	for i := range 70_000 {
		values[fmt.Sprintf("p%d", i)] = value.Int(int64(i))
	}
	head := event.NewClock(id.EventID{1})
	tooMany, err := (&entity.State{ID: f.tooMany, Collection: "album", Head: head, Values: value.FieldsOf(values)}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	headRaw, err := event.EncodeClock(head)
	if err != nil {
		t.Fatal(err)
	}
	states := pgx.Identifier{e.Schema(), "album"}.Sanitize()
	events := pgx.Identifier{e.Schema(), "album#ev"}.Sanitize()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO " + states + ` (id, head, state, "n#n") VALUES ($1, $2, $3, 0)`, []any{f.garbage[:], headRaw, []byte("\xa1\x01not a state")}},
		{"INSERT INTO " + states + ` (id, head, state, "n#n") VALUES ($1, $2, $3, 0)`, []any{f.tooMany[:], headRaw, tooMany}},
		{"INSERT INTO " + events + " (id, entity, event) VALUES ($1, $2, $3)", []any{f.badEvent[:], f.good[0][:], []byte{0xff, 0x00}}},
	} {
		if _, err := e.Pool().Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return f
}

func badRows(t *testing.T, r storage.Repairer) []string {
	t.Helper()
	var out []string
	err := r.BadRows(context.Background(), "album", func(b storage.BadRow) error {
		if b.Collection != "album" || b.Err == nil {
			t.Errorf("bad row %+v: want collection album and an error", b)
		}
		out = append(out, fmt.Sprintf("%s %x", b.Kind, b.Key))
		return nil
	})
	if err != nil {
		t.Fatalf("BadRows: %v", err)
	}
	slices.Sort(out)
	return out
}

func TestFetch_SkipsUndecodableRowsUntilRemoved(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	c := mustCollection(t, f.e, "album")
	sorted := slices.Clone(f.good)
	slices.SortFunc(sorted, id.EntityID.Compare)

	before := storage.BadRowsSkipped()
	if got := fetchIDs(t, c, "true"); !slices.Equal(got, sorted) {
		t.Errorf("full scan = %v, want the good entities %v", got, sorted)
	}
	if n := storage.BadRowsSkipped() - before; n < 2 {
		t.Errorf("BadRowsSkipped grew by %d over two bad states, want at least 2", n)
	}
	// SQL orders the two bad rows first: its LIMIT 2 returns only them.
	for _, q := range []string{"n >= 0 ORDER BY n LIMIT 2", "true ORDER BY n LIMIT 2", "true LIMIT 1"} {
		want := f.good[:2]
		if q == "true LIMIT 1" {
			want = sorted[:1]
		}
		if got := fetchIDs(t, c, q); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v (bad rows do not count against the limit)", q, got, want)
		}
	}
	want := []string{fmt.Sprintf("event %x", f.badEvent[:]), fmt.Sprintf("state %x", f.garbage[:]), fmt.Sprintf("state %x", f.tooMany[:])}
	slices.Sort(want)
	if got := badRows(t, f.e); !slices.Equal(got, want) {
		t.Fatalf("BadRows = %v, want %v", got, want)
	}
	for _, row := range []struct {
		kind string
		key  []byte
	}{{"state", f.garbage[:]}, {"state", f.tooMany[:]}, {"event", f.badEvent[:]}} {
		if err := f.e.RemoveRow(ctx, "album", row.kind, row.key); err != nil {
			t.Errorf("RemoveRow(%s %x): %v", row.kind, row.key, err)
		}
	}
	if got := badRows(t, f.e); len(got) != 0 {
		t.Errorf("BadRows after removing them = %v, want none", got)
	}
	before = storage.BadRowsSkipped()
	if got := fetchIDs(t, c, "n >= 0 ORDER BY n"); !slices.Equal(got, f.good) {
		t.Errorf("fetch after the repair = %v, want %v", got, f.good)
	}
	if n := storage.BadRowsSkipped() - before; n != 0 {
		t.Errorf("BadRowsSkipped grew by %d after the repair, want 0", n)
	}
}

func TestGetState_UndecodableRowIsErrFormat(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	c := mustCollection(t, f.e, "album")
	for _, eid := range []id.EntityID{f.garbage, f.tooMany} {
		_, err := c.GetState(ctx, eid)
		if !errors.Is(err, storage.ErrFormat) || !bytes.Contains([]byte(err.Error()), []byte(eid.String())) {
			t.Errorf("GetState of an undecodable state: %v, want ErrFormat naming %s", err, eid)
		}
	}
}

func TestEvents_SkipUndecodableEvents(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	c := mustCollection(t, f.e, "album")
	good := genesis("album", "0")
	before := storage.BadRowsSkipped()
	evs, err := c.EntityEvents(ctx, f.good[0])
	if err != nil || len(evs) != 1 || evs[0].ID() != good.ID() {
		t.Errorf("EntityEvents over one bad and one good event = %d events, %v; want the good one", len(evs), err)
	}
	evs, err = c.GetEvents(ctx, []id.EventID{f.badEvent, good.ID()})
	if err != nil || len(evs) != 1 {
		t.Errorf("GetEvents of one bad and one good event = %d events, %v; want the good one", len(evs), err)
	}
	if n := storage.BadRowsSkipped() - before; n < 2 {
		t.Errorf("BadRowsSkipped grew by %d, want at least 2", n)
	}
}

func TestLookupCollection_UnknownNamesCreateNoTables(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	mustApply(t, e, create(genesis("album", "a"), nil))
	long := "a collection name long enough to be hashed into its table name, see ident"
	mustApply(t, e, create(genesis(long, "a"), nil))
	for i := range 200 {
		if _, err := e.LookupCollection(ctx, fmt.Sprintf("nosuch%d", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LookupCollection of an unknown name: %v, want ErrNotFound", err)
		}
	}
	var tables int
	if err := e.Pool().QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", e.Schema()).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 7 { // #format, #feed, #feedinfo, and two tables for each collection
		t.Errorf("%d tables after 200 lookups of unknown names, want 7", tables)
	}
	for _, n := range []string{"album", long} {
		c, err := e.LookupCollection(ctx, n)
		if err != nil {
			t.Fatalf("LookupCollection(%q) of a written collection: %v", n, err)
		}
		if got := fetchIDs(t, c, "true"); len(got) != 1 {
			t.Errorf("fetch from the looked-up %q = %d states, want 1", n, len(got))
		}
	}
	names, err := e.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{long, "album"}; !slices.Equal(names, want) {
		t.Errorf("Collections = %q, want %q", names, want)
	}
}

func TestRemoveRow_UnknownRowsAndKinds(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	g := genesis("album", "a")
	mustApply(t, e, create(g, nil))
	for _, tc := range []struct {
		coll, kind string
		key        []byte
		want       error
	}{
		{"nosuch", "state", g.Entity[:], storage.ErrNotFound},
		{"album", "state", []byte{1, 2, 3}, storage.ErrNotFound},
		{"album", "event", bytes.Repeat([]byte{9}, id.Size), storage.ErrNotFound},
		{"album", "index", g.Entity[:], storage.ErrInvalid},
	} {
		if err := e.RemoveRow(ctx, tc.coll, tc.kind, tc.key); !errors.Is(err, tc.want) {
			t.Errorf("RemoveRow(%q, %q, %x) = %v, want %v", tc.coll, tc.kind, tc.key, err, tc.want)
		}
	}
	if err := e.BadRows(ctx, "nosuch", func(storage.BadRow) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("BadRows of an unknown collection = %v, want ErrNotFound", err)
	}
}
