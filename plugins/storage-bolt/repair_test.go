package bolt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// rawUpdate writes behind the engine's back, as an older build would have:
// it opens the file with plain bbolt (the engine must be closed) and runs fn
// on the bucket of the toolkit's keys (see core/storage/kv for the layout).
func rawUpdate(t *testing.T, path string, fn func(kv *bbolt.Bucket) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error { return fn(tx.Bucket([]byte("kv"))) }); err != nil {
		t.Fatal(err)
	}
}

// rawKey is the toolkit's key of a tag, a collection and the parts after it.
func rawKey(tag byte, collection string, parts ...[]byte) []byte {
	k := keyenc.AppendString([]byte{tag}, collection)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// tooManyProperties is the encoding of a state with 70,000 properties: an
// older build could write it, the decoder refuses it ("exceeded max number
// of key-value pairs").
func tooManyProperties(t *testing.T, collection string, eid id.EntityID) []byte {
	t.Helper()
	values := make(map[string]value.Value, 70_000)
	for i := range 70_000 {
		values[fmt.Sprintf("p%d", i)] = value.Int(int64(i))
	}
	s := entity.State{ID: eid, Collection: collection, Head: event.NewClock(id.EventID{1}), Values: value.FieldsOf(values)}
	raw, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := entity.Decode(raw); err == nil {
		t.Fatal("a state of 70,000 properties decodes; the test needs one that does not")
	}
	return raw
}

// badFixture is a bolt file of collection "album" with three good entities
// (n = 1, 2, 3, indexed on n) and, written behind the engine's back, two
// states that do not decode (with index entries among the good ones') and an
// event that does not decode, linked to the first bad entity.
type badFixture struct {
	e                  *bolt.Engine
	good               []id.EntityID
	garbage, tooMany   id.EntityID
	badEvent           id.EventID
	goodEventOfGarbage event.Event
}

func newBadFixture(t *testing.T) badFixture {
	t.Helper()
	ctx := context.Background()
	e, path := openTemp(t)
	var f badFixture
	for n := range 3 {
		s := create(t, e, "album", uint64(n+1), map[string]value.Value{"n": value.Int(int64(n + 1))})
		f.good = append(f.good, s.ID)
	}
	slices.SortFunc(f.good, id.EntityID.Compare)
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "n"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	f.garbage = id.EntityID(sha256.Sum256([]byte("garbage")))
	// A good event of the garbage entity, so that it has two event links.
	f.goodEventOfGarbage = event.Event{Collection: "album", Entity: f.garbage, Parent: event.NewClock(id.EventID{7}), Operations: map[string][]byte{"lww": []byte("edit")}}
	f.tooMany = id.EntityID(sha256.Sum256([]byte("too many")))
	f.badEvent = id.EventID(sha256.Sum256([]byte("bad event")))
	goodRaw, err := f.goodEventOfGarbage.Encode()
	if err != nil {
		t.Fatal(err)
	}
	goodID := f.goodEventOfGarbage.ID()
	tooMany := tooManyProperties(t, "album", f.tooMany)
	one := []byte{1}
	rawUpdate(t, path, func(b *bbolt.Bucket) error {
		puts := []struct{ k, v []byte }{
			{rawKey('s', "album", f.garbage[:]), []byte("\xa1\x01not a state")},
			{rawKey('s', "album", f.tooMany[:]), tooMany},
			{rawKey('e', "album", f.badEvent[:]), []byte{0xff, 0x00}},
			{rawKey('e', "album", goodID[:]), goodRaw},
			{rawKey('h', "album", f.garbage[:], f.badEvent[:]), one},
			{rawKey('h', "album", f.garbage[:], goodID[:]), one},
			{rawKey('i', "album", keyenc.AppendString(nil, "n"), keyenc.Key(value.Int(2)), f.garbage[:]), one},
			{rawKey('i', "album", keyenc.AppendString(nil, "n"), keyenc.Key(value.Int(1)), f.tooMany[:]), one},
		}
		for _, p := range puts {
			if err := b.Put(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	// The skipped rows' warnings would drown the test's output.
	f.e, err = bolt.Open(ctx, path, bolt.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.e.Close() })
	return f
}

func fetchIDs(t *testing.T, c storage.Collection, q string) []id.EntityID {
	t.Helper()
	states, err := c.FetchStates(context.Background(), mustBound(t, q))
	if err != nil {
		t.Fatalf("FetchStates(%q): %v", q, err)
	}
	out := make([]id.EntityID, len(states))
	for i, s := range states {
		out[i] = s.ID
	}
	return out
}

func badRows(t *testing.T, r storage.Repairer, collection string) []storage.BadRow {
	t.Helper()
	var out []storage.BadRow
	if err := r.BadRows(context.Background(), collection, func(b storage.BadRow) error { out = append(out, b); return nil }); err != nil {
		t.Fatalf("BadRows(%q): %v", collection, err)
	}
	return out
}

func TestFetch_SkipsUndecodableRowsUntilRemoved(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	c, err := f.e.Collection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	byN := []id.EntityID{}
	for _, n := range []int{1, 2, 3} {
		byN = append(byN, fetchIDs(t, c, fmt.Sprintf("n = %d", n))...)
	}

	before := storage.BadRowsSkipped()
	if got := fetchIDs(t, c, "true"); !slices.Equal(got, f.good) {
		t.Errorf("full scan = %v, want the three good entities %v", got, f.good)
	}
	if n := storage.BadRowsSkipped() - before; n < 2 {
		t.Errorf("BadRowsSkipped grew by %d in a full scan over two bad states, want at least 2", n)
	}
	if got := fetchIDs(t, c, "n >= 1 ORDER BY n LIMIT 2"); !slices.Equal(got, byN[:2]) {
		t.Errorf("index scan with a limit = %v, want %v (bad rows do not count against the limit)", got, byN[:2])
	}
	if got := fetchIDs(t, c, "n >= 1 ORDER BY n DESC"); !slices.Equal(got, []id.EntityID{byN[2], byN[1], byN[0]}) {
		t.Errorf("reverse index scan = %v, want the good entities by n descending", got)
	}

	bad := badRows(t, f.e, "album")
	var got []string
	for _, b := range bad {
		got = append(got, fmt.Sprintf("%s %x", b.Kind, b.Key))
		if b.Collection != "album" || b.Err == nil {
			t.Errorf("bad row %+v: want collection album and an error", b)
		}
	}
	want := []string{fmt.Sprintf("state %x", f.garbage[:]), fmt.Sprintf("state %x", f.tooMany[:]), fmt.Sprintf("event %x", f.badEvent[:])}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("BadRows = %v, want %v", got, want)
	}
	for _, b := range bad {
		if err := f.e.RemoveRow(ctx, "album", b.Kind, b.Key); err != nil {
			t.Errorf("RemoveRow(%s %x): %v", b.Kind, b.Key, err)
		}
	}
	if bad := badRows(t, f.e, "album"); len(bad) != 0 {
		t.Errorf("BadRows after removing them = %v, want none", bad)
	}
	before = storage.BadRowsSkipped()
	if got := fetchIDs(t, c, "true"); !slices.Equal(got, f.good) {
		t.Errorf("full scan after the repair = %v, want %v", got, f.good)
	}
	// An index entry left behind would be "index names entity …, which is not stored".
	if got := fetchIDs(t, c, "n >= 1 ORDER BY n"); !slices.Equal(got, byN) {
		t.Errorf("index scan after the repair = %v, want %v", got, byN)
	}
	if n := storage.BadRowsSkipped() - before; n != 0 {
		t.Errorf("BadRowsSkipped grew by %d after the repair, want 0", n)
	}
	// The garbage entity's good event and its link stay; the bad one's link went.
	evs, err := c.EntityEvents(ctx, f.garbage)
	if err != nil || len(evs) != 1 || evs[0].ID() != f.goodEventOfGarbage.ID() {
		t.Errorf("EntityEvents of the removed entity = %d events, %v; want its one good event", len(evs), err)
	}
}

func TestGetState_UndecodableRowIsErrFormat(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	c, _ := f.e.Collection(ctx, "album")
	for _, eid := range []id.EntityID{f.garbage, f.tooMany} {
		_, err := c.GetState(ctx, eid)
		if !errors.Is(err, storage.ErrFormat) || !bytes.Contains([]byte(err.Error()), []byte(eid.String())) {
			t.Errorf("GetState of an undecodable state: %v, want ErrFormat naming %s", err, eid)
		}
	}
	// Writing over it cannot check its head: refused the same way.
	_, s := genesis("album", 7, nil)
	s.ID = f.garbage
	err := f.e.Apply(ctx, &storage.Batch{States: []storage.StateWrite{{State: s}}})
	if !errors.Is(err, storage.ErrFormat) {
		t.Errorf("Apply over an undecodable state: %v, want ErrFormat", err)
	}
}

func TestEvents_SkipUndecodableEvents(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	c, _ := f.e.Collection(ctx, "album")
	before := storage.BadRowsSkipped()
	evs, err := c.EntityEvents(ctx, f.garbage)
	if err != nil || len(evs) != 1 {
		t.Errorf("EntityEvents over one bad and one good event = %d events, %v; want the good one", len(evs), err)
	}
	evs, err = c.GetEvents(ctx, []id.EventID{f.badEvent, f.goodEventOfGarbage.ID()})
	if err != nil || len(evs) != 1 {
		t.Errorf("GetEvents of one bad and one good event = %d events, %v; want the good one", len(evs), err)
	}
	if n := storage.BadRowsSkipped() - before; n < 2 {
		t.Errorf("BadRowsSkipped grew by %d, want at least 2", n)
	}
}

func TestDeclareIndex_SkipsUndecodableRow(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	if err := f.e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: "m"}); err != nil {
		t.Fatalf("DeclareIndex over a collection with undecodable states: %v", err)
	}
	c, _ := f.e.Collection(ctx, "album")
	if got := fetchIDs(t, c, "m IS NULL ORDER BY m"); !slices.Equal(got, f.good) {
		t.Errorf("fetch through the new index = %v, want the good entities %v", got, f.good)
	}
}

func TestRemoveRow_UnknownRowsAndKinds(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t, boltNoSync())
	s := create(t, e, "album", 1, nil)
	for _, tc := range []struct {
		coll, kind string
		key        []byte
		want       error
	}{
		{"nosuch", "state", s.ID[:], storage.ErrNotFound},
		{"album", "state", []byte{1, 2, 3}, storage.ErrNotFound},
		{"album", "event", bytes.Repeat([]byte{9}, id.Size), storage.ErrNotFound},
		{"album", "index", s.ID[:], storage.ErrInvalid},
	} {
		if err := e.RemoveRow(ctx, tc.coll, tc.kind, tc.key); !errors.Is(err, tc.want) {
			t.Errorf("RemoveRow(%q, %q, %x) = %v, want %v", tc.coll, tc.kind, tc.key, err, tc.want)
		}
	}
	if err := e.BadRows(ctx, "nosuch", func(storage.BadRow) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("BadRows of an unknown collection = %v, want ErrNotFound", err)
	}
}

func TestLookupCollection_UnknownNamesCreateNoBuckets(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t, boltNoSync())
	create(t, e, "album", 1, nil)
	for i := range 2000 {
		if _, err := e.LookupCollection(ctx, fmt.Sprintf("nosuch%d", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LookupCollection of an unknown name: %v, want ErrNotFound", err)
		}
	}
	names, err := e.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"album"}) {
		t.Errorf("Collections after 2,000 lookups of unknown names = %d names, want [album]", len(names))
	}
	if _, err := e.LookupCollection(ctx, "album"); err != nil {
		t.Errorf("LookupCollection of a written collection: %v", err)
	}
	if _, err := e.LookupCollection(ctx, ""); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("LookupCollection(\"\") = %v, want ErrInvalid", err)
	}
}
