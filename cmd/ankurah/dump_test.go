package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	postgres "github.com/ankurah/ankurah-go/plugins/storage-postgres"
	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// fillAlbums writes through a node: creations in two collections, an
// update (two events for one entity) and a delete.
func fillAlbums(t *testing.T, e storage.Engine) {
	t.Helper()
	ctx := context.Background()
	node, err := core.NewNode(ctx, e, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	c := node.Context(nil)
	trx := c.Begin()
	var ids []id.EntityID
	var muts []*core.Mut
	for i, name := range []string{"OK Computer", "Origin of Symmetry", "Showbiz", "In Rainbows"} {
		m, err := trx.Create(ctx, "album")
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]any{"name": name, "year": 1997 + i, "meta": map[string]any{"producer": map[string]any{"name": "John"}}} {
			if err := m.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		muts = append(muts, m)
	}
	m, err := trx.Create(ctx, "artist")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set("name", "Muse"); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range muts {
		ids = append(ids, m.ID())
	}
	trx = c.Begin()
	edit, err := trx.Edit(ctx, "album", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := edit.Set("year", 1998); err != nil {
		t.Fatal(err)
	}
	if err := trx.Delete(ctx, "album", ids[2]); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func dumpBytes(t *testing.T, e storage.Engine) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := dumpEngine(context.Background(), e, nil, &b, newProgress(io.Discard)); err != nil {
		t.Fatalf("dump: %v", err)
	}
	return b.Bytes()
}

func load(t *testing.T, e storage.Engine, dump []byte) (loadCounts, error) {
	t.Helper()
	return loadEngine(context.Background(), e, &dumpSource{r: bytes.NewReader(dump), raw: &countingReader{r: bytes.NewReader(nil)}}, 0, newProgress(io.Discard))
}

func openBolt(t *testing.T) *bolt.Engine {
	t.Helper()
	e, err := bolt.Open(context.Background(), filepath.Join(t.TempDir(), "ankurah.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// sameEntities compares every state and every event of two engines byte
// for byte, collection by collection.
func sameEntities(t *testing.T, a, b storage.Engine) {
	t.Helper()
	ctx := context.Background()
	names, err := a.(storage.CollectionLister).Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	namesB, err := b.(storage.CollectionLister).Collections(ctx)
	if err != nil || !slices.Equal(names, namesB) {
		t.Fatalf("collections %v and %v (%v)", names, namesB, err)
	}
	for _, name := range names {
		ca, _ := a.Collection(ctx, name)
		cb, _ := b.Collection(ctx, name)
		sa, err := ca.FetchStates(ctx, everything)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := cb.FetchStates(ctx, everything)
		if err != nil || len(sa) != len(sb) {
			t.Fatalf("%s: %d and %d states (%v)", name, len(sa), len(sb), err)
		}
		for i := range sa {
			x, _ := sa[i].Encode()
			got, err := cb.GetState(ctx, sa[i].ID)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, sa[i].ID, err)
			}
			y, _ := got.Encode()
			if !bytes.Equal(x, y) {
				t.Fatalf("%s/%s: states differ:\n%x\n%x", name, sa[i].ID, x, y)
			}
			ea, _ := ca.EntityEvents(ctx, sa[i].ID)
			eb, _ := cb.EntityEvents(ctx, sa[i].ID)
			if len(ea) != len(eb) || (len(ea) == 0 && name != core.SystemCollection && name != core.AttributionCollection) {
				t.Fatalf("%s/%s: %d and %d events", name, sa[i].ID, len(ea), len(eb))
			}
			want := map[id.EventID][]byte{}
			for _, ev := range ea {
				want[ev.ID()], _ = ev.Encode()
			}
			for _, ev := range eb {
				raw, _ := ev.Encode()
				if !bytes.Equal(want[ev.ID()], raw) {
					t.Fatalf("%s/%s: event %s differs", name, sa[i].ID, ev.ID())
				}
			}
		}
	}
}

// TestDumpLoad_BoltPostgresBoltRoundTrip moves a store from bolt to
// PostgreSQL and back: every state and event arrives byte for byte, and the
// three dumps are the same file.
func TestDumpLoad_BoltPostgresBoltRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openBolt(t)
	fillAlbums(t, src)
	first := dumpBytes(t, src)

	pg, err := postgres.Open(ctx, pgtest.URL(t), postgres.WithSchema(pgtest.SchemaName(t.Name())))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	counts, err := load(t, pg, first)
	if err != nil {
		t.Fatalf("load into postgres: %v", err)
	}
	// album: 4 entities, 6 events (an update, a delete); artist: 1; _ankurah:
	// the system id; _ankurah_attribution: who wrote the 7 events of the 5.
	if counts.Collections != 4 || counts.Entities != 11 || counts.Events != 7 || counts.Unchanged != 0 {
		t.Fatalf("load counted %+v; want 4 collections, 11 entities, 7 events", counts)
	}
	sameEntities(t, src, pg)
	second := dumpBytes(t, pg)
	if !bytes.Equal(first, second) {
		t.Fatalf("the PostgreSQL dump differs from the bolt dump:\n%s\n%s", first, second)
	}

	back := openBolt(t)
	if _, err := load(t, back, second); err != nil {
		t.Fatalf("load back into bolt: %v", err)
	}
	sameEntities(t, src, back)
	// Who wrote what when came along: a node on the loaded store reads it.
	node, err := core.NewNode(ctx, back, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	albums, err := node.Context(nil).Fetch(ctx, "album", "true")
	if err != nil || len(albums) == 0 {
		t.Fatalf("albums: %v %v", albums, err)
	}
	if a, err := node.Attribution(ctx, albums[0].ID()); err != nil || len(a) == 0 || a[0].Event != id.EventID(albums[0].ID()) {
		t.Fatalf("attribution after the round trip: %+v %v", a, err)
	}
	node.Close()
	if third := dumpBytes(t, back); !bytes.Equal(first, third) {
		t.Fatal("the dump after the round trip differs from the first")
	}
}

// TestLoad_SecondLoadChangesNothing: loading a dump again writes nothing and
// leaves the same store.
func TestLoad_SecondLoadChangesNothing(t *testing.T) {
	src := openBolt(t)
	fillAlbums(t, src)
	d := dumpBytes(t, src)
	dst := openBolt(t)
	if _, err := load(t, dst, d); err != nil {
		t.Fatal(err)
	}
	counts, err := load(t, dst, d)
	if err != nil {
		t.Fatalf("second load: %v", err)
	}
	if counts.Unchanged != counts.Entities || counts.Entities != 11 {
		t.Fatalf("second load counted %+v; want all 11 entities unchanged (6 and their attribution records)", counts)
	}
	if again := dumpBytes(t, dst); !bytes.Equal(d, again) {
		t.Fatal("the store changed on the second load")
	}
}

// TestLoad_RefusesConflictingEntity: an entity stored with another state is
// refused, naming it.
func TestLoad_RefusesConflictingEntity(t *testing.T) {
	src := openBolt(t)
	fillAlbums(t, src)
	d := dumpBytes(t, src)
	dst := openBolt(t)
	if _, err := load(t, dst, d); err != nil {
		t.Fatal(err)
	}
	fillAlbums(t, src) // more entities: fine
	node, err := core.NewNode(context.Background(), dst, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	c := node.Context(nil)
	vs, err := c.Fetch(context.Background(), "artist", "name = 'Muse'")
	if err != nil || len(vs) != 1 {
		t.Fatalf("fetch: %v %v", vs, err)
	}
	trx := c.Begin()
	m, _ := trx.Edit(context.Background(), "artist", vs[0].ID())
	_ = m.Set("name", "Muse (UK)")
	if err := trx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.Close()
	_, err = load(t, dst, d)
	if !errors.Is(err, ErrLoadConflict) || !strings.Contains(err.Error(), vs[0].ID().String()) {
		t.Fatalf("load over a changed entity: %v; want ErrLoadConflict naming %s", err, vs[0].ID())
	}
}

// TestLoad_RefusesStoreOfAnotherSystem: a store a server has opened has a
// system id of its own; a dump of another system is refused before it
// writes anything.
func TestLoad_RefusesStoreOfAnotherSystem(t *testing.T) {
	src := openBolt(t)
	fillAlbums(t, src)
	dst := openBolt(t)
	node, err := core.NewNode(context.Background(), dst, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	node.Close()
	_, err = load(t, dst, dumpBytes(t, src))
	if !errors.Is(err, ErrLoadConflict) || !strings.Contains(err.Error(), "a server has run on it") {
		t.Fatalf("load into another system's store: %v", err)
	}
	if names, _ := dst.Collections(context.Background()); slices.Contains(names, "album") {
		t.Fatalf("the refused load wrote collections %v", names)
	}
}

// TestLoad_RefusesNewerTruncatedAndForeignFiles: what is not a whole dump
// of a version this build reads is refused, saying which.
func TestLoad_RefusesNewerTruncatedAndForeignFiles(t *testing.T) {
	src := openBolt(t)
	fillAlbums(t, src)
	d := dumpBytes(t, src)
	lines := bytes.SplitAfter(d, []byte("\n"))
	newer := append([]byte(fmt.Sprintf(`{"format":"ankurah-dump","version":%d}`+"\n", dumpFormatVersion+1)), bytes.Join(lines[1:], nil)...)
	for _, tc := range []struct {
		name string
		file []byte
		want error
		text string
	}{
		{"newer", newer, ErrNewerDump, "version 2"},
		{"truncated", bytes.Join(lines[:len(lines)-2], nil), ErrTruncatedDump, "end record"},
		{"foreign", []byte("{\"hello\":1}\n"), ErrNotDump, "format"},
		{"empty", nil, ErrNotDump, "empty"},
		{"not json", []byte("PK\x03\x04 zip\n"), ErrNotDump, "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := openBolt(t)
			_, err := load(t, dst, tc.file)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("load: %v; want %v mentioning %q", err, tc.want, tc.text)
			}
			if tc.name == "newer" {
				if names, _ := dst.Collections(context.Background()); len(names) != 0 {
					t.Fatalf("a refused newer file wrote collections %v", names)
				}
			}
		})
	}
}

// TestDumpLoadCommands runs the commands on bolt files, gzip-compressed,
// with plain progress lines on a non-terminal.
func TestDumpLoadCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcPath := filepath.Join(dir, "src", "ankurah.db")
	os.MkdirAll(filepath.Dir(srcPath), 0o755)
	src, err := bolt.Open(ctx, srcPath)
	if err != nil {
		t.Fatal(err)
	}
	fillAlbums(t, src)
	src.Close()
	file := filepath.Join(dir, "backup.jsonl.gz")
	var errOut bytes.Buffer
	if err := run(ctx, []string{"dump", "--data-dir", filepath.Dir(srcPath), file}, io.Discard, &errOut); err != nil {
		t.Fatalf("dump: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "dump album: 4/4 entities (100%)") || !strings.Contains(errOut.String(), "dumped 11 entities and 7 events of 4 collections") {
		t.Fatalf("dump printed:\n%s", errOut.String())
	}
	raw, _ := os.ReadFile(file)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("dump to .gz is not gzip: %v", err)
	}
	head, _ := io.ReadAll(zr)
	if !bytes.HasPrefix(head, []byte(`{"format":"ankurah-dump","version":1}`)) {
		t.Fatalf("dump starts %.80q", head)
	}
	dst := filepath.Join(dir, "dst")
	for i, want := range []string{"loaded 11 entities and 7 events of 4 collections", "loaded 0 entities and 0 events of 4 collections into bolt://" + filepath.Join(dst, "ankurah.db") + " (11 entities already there unchanged)"} {
		errOut.Reset()
		if err := run(ctx, []string{"load", "--data-dir", dst, file}, io.Discard, &errOut); err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("load %d printed:\n%s\nwant %q", i, errOut.String(), want)
		}
	}
	err = run(ctx, []string{"dump", "--data-dir", filepath.Join(dir, "nothing"), file}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no bolt database") {
		t.Fatalf("dump of a missing store: %v", err)
	}
}

func TestProgress_BarOnTerminalLinesOtherwise(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.start("dump album", "entities", 200)
	p.set(50)
	p.finish()
	if got := b.String(); got != "dump album: 50/200 entities (25%)\n" {
		t.Fatalf("plain progress printed %q", got)
	}
	p.done = 100
	if got := p.bar(10); got != "dump album [=====>    ]  50% 100/200 entities" {
		t.Fatalf("bar = %q", got)
	}
	p.done = 200
	if got := p.bar(10); got != "dump album [==========] 100% 200/200 entities" {
		t.Fatalf("full bar = %q", got)
	}
}
