package tikv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// rawKey is root tag coll parts…, the engine's key layout (keys.go).
func rawKey(prefix string, tag byte, parts ...[]byte) []byte {
	k := keyenc.AppendString(append([]byte(prefix+"\x00"), tag), coll)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// rawPut writes keys with plain txnkv, behind the engine's back, as an
// older build would have.
func rawPut(t *testing.T, kvs map[string][]byte) {
	t.Helper()
	txn, err := client(t).Begin()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range kvs {
		if err := txn.Set([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// badFixture is an engine whose collection holds three good entities
// (n = 0, 1, 2, indexed on n) and, written with raw txnkv, two states that do
// not decode (one of 70,000 properties, one garbage; each with an index
// entry among the good ones') and an event that does not decode, linked to
// the garbage entity next to a good event of it.
type badFixture struct {
	e                *tikv.Engine
	prefix           string
	good             []id.EntityID // by n
	garbage, tooMany id.EntityID
	badEvent         id.EventID
	goodEvent        event.Event
}

func newBadFixture(t *testing.T) badFixture {
	t.Helper()
	ctx := context.Background()
	prefix := uniquePrefix(t)
	// Small batches make scans cross batch boundaries around the bad rows.
	e := newEngine(t, tikv.WithKeyPrefix(prefix), tikv.WithScanBatchSize(2), tikv.WithLogger(slog.New(slog.DiscardHandler)))
	if err := e.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "n"}); err != nil {
		t.Fatal(err)
	}
	b, good := create(3, "good", func(i int) map[string]value.Value { return map[string]value.Value{"n": value.Int(int64(i))} })
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	f := badFixture{e: e, prefix: prefix, good: good,
		garbage:  id.EntityID(sha256.Sum256([]byte("garbage"))),
		tooMany:  id.EntityID(sha256.Sum256([]byte("too many"))),
		badEvent: id.EventID(sha256.Sum256([]byte("bad event"))),
	}
	f.goodEvent = event.Event{Collection: coll, Entity: f.garbage, Parent: event.NewClock(id.EventID{7}), Operations: map[string][]byte{"lww": []byte("edit")}}
	goodRaw, err := f.goodEvent.Encode()
	if err != nil {
		t.Fatal(err)
	}
	goodID := f.goodEvent.ID()
	values := make(map[string]value.Value, 70_000)
	for i := range 70_000 {
		values[fmt.Sprintf("p%d", i)] = value.Int(int64(i))
	}
	tooMany, err := (&entity.State{ID: f.tooMany, Collection: coll, Head: event.NewClock(id.EventID{1}), Values: value.FieldsOf(values)}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	ixEntry := func(v value.Value, eid id.EntityID) string {
		return string(rawKey(prefix, 'i', keyenc.AppendString(nil, "n"), keyenc.Key(v), eid[:]))
	}
	rawPut(t, map[string][]byte{
		string(rawKey(prefix, 's', f.garbage[:])):                []byte("\xa1\x01not a state"),
		string(rawKey(prefix, 's', f.tooMany[:])):                tooMany,
		string(rawKey(prefix, 'e', f.badEvent[:])):               {0xff, 0x00},
		string(rawKey(prefix, 'e', goodID[:])):                   goodRaw,
		string(rawKey(prefix, 'h', f.garbage[:], f.badEvent[:])): {1},
		string(rawKey(prefix, 'h', f.garbage[:], goodID[:])):     {1},
		ixEntry(value.Int(1), f.garbage):                         {1},
		ixEntry(value.Int(0), f.tooMany):                         {1},
	})
	return f
}

// rawCount counts the keys under prefix with plain txnkv.
func rawCount(t *testing.T, prefix []byte) int {
	t.Helper()
	txn, err := client(t).Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = txn.Rollback() }()
	it, err := txn.Iter(prefix, keyenc.PrefixEnd(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ; it.Valid(); n++ {
		if err := it.Next(); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func badRows(t *testing.T, r storage.Repairer) []string {
	t.Helper()
	var out []string
	err := r.BadRows(context.Background(), coll, func(b storage.BadRow) error {
		if b.Collection != coll || b.Err == nil {
			t.Errorf("bad row %+v: want collection %q and an error", b, coll)
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
	c := collection(t, f.e)
	sorted := slices.Clone(f.good)
	slices.SortFunc(sorted, id.EntityID.Compare)

	before := storage.BadRowsSkipped()
	if got := fetch(t, c, "true"); !slices.Equal(got, sorted) {
		t.Errorf("full scan = %v, want the good entities %v", got, sorted)
	}
	if n := storage.BadRowsSkipped() - before; n < 2 {
		t.Errorf("BadRowsSkipped grew by %d in a full scan over two bad states, want at least 2", n)
	}
	if got := fetch(t, c, "n >= 0 ORDER BY n LIMIT 2"); !slices.Equal(got, f.good[:2]) {
		t.Errorf("index scan with a limit = %v, want %v (bad rows do not count against the limit)", got, f.good[:2])
	}
	if got := fetch(t, c, "true LIMIT 3"); !slices.Equal(got, sorted) {
		t.Errorf("full scan with a limit = %v, want %v", got, sorted)
	}

	want := []string{fmt.Sprintf("event %x", f.badEvent[:]), fmt.Sprintf("state %x", f.garbage[:]), fmt.Sprintf("state %x", f.tooMany[:])}
	slices.Sort(want)
	got := badRows(t, f.e)
	if !slices.Equal(got, want) {
		t.Fatalf("BadRows = %v, want %v", got, want)
	}
	for _, row := range []struct {
		kind string
		key  []byte
	}{{"state", f.garbage[:]}, {"state", f.tooMany[:]}, {"event", f.badEvent[:]}} {
		if err := f.e.RemoveRow(ctx, coll, row.kind, row.key); err != nil {
			t.Errorf("RemoveRow(%s %x): %v", row.kind, row.key, err)
		}
	}
	if got := badRows(t, f.e); len(got) != 0 {
		t.Errorf("BadRows after removing them = %v, want none", got)
	}
	before = storage.BadRowsSkipped()
	if got := fetch(t, c, "true"); !slices.Equal(got, sorted) {
		t.Errorf("full scan after the repair = %v, want %v", got, sorted)
	}
	if got := fetch(t, c, "n >= 0 ORDER BY n"); !slices.Equal(got, f.good) {
		t.Errorf("index scan after the repair = %v, want %v", got, f.good)
	}
	if n := storage.BadRowsSkipped() - before; n != 0 {
		t.Errorf("BadRowsSkipped grew by %d after the repair, want 0", n)
	}
	// The index entries of the removed states went with them.
	if n := rawCount(t, rawKey(f.prefix, 'i')); n != len(f.good) {
		t.Errorf("%d index entries after the repair, want %d (one per good entity)", n, len(f.good))
	}
	evs, err := c.EntityEvents(ctx, f.garbage)
	if err != nil || len(evs) != 1 || evs[0].ID() != f.goodEvent.ID() {
		t.Errorf("EntityEvents of the removed entity = %d events, %v; want its one good event", len(evs), err)
	}
}

func TestGetState_UndecodableRowIsErrFormat(t *testing.T) {
	ctx := context.Background()
	f := newBadFixture(t)
	c := collection(t, f.e)
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
	c := collection(t, f.e)
	before := storage.BadRowsSkipped()
	evs, err := c.EntityEvents(ctx, f.garbage)
	if err != nil || len(evs) != 1 {
		t.Errorf("EntityEvents over one bad and one good event = %d events, %v; want the good one", len(evs), err)
	}
	evs, err = c.GetEvents(ctx, []id.EventID{f.badEvent, f.goodEvent.ID()})
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
	if err := f.e.DeclareIndex(ctx, storage.Index{Collection: coll, Property: "m"}); err != nil {
		t.Fatalf("DeclareIndex over a collection with undecodable states: %v", err)
	}
	sorted := slices.Clone(f.good)
	slices.SortFunc(sorted, id.EntityID.Compare)
	if got := fetch(t, collection(t, f.e), "m IS NULL ORDER BY m"); !slices.Equal(got, sorted) {
		t.Errorf("fetch through the new index = %v, want the good entities %v", got, sorted)
	}
}

func TestLookupCollection_ExistsOnceItHoldsAKey(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	if _, err := e.Collection(ctx, coll); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := e.LookupCollection(ctx, fmt.Sprintf("nosuch%d", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LookupCollection of an unknown name: %v, want ErrNotFound", err)
		}
	}
	if _, err := e.LookupCollection(ctx, coll); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LookupCollection of a collection only opened: %v, want ErrNotFound (Collection writes nothing)", err)
	}
	names := []string{coll, "a\x00b", "a", "indexed"}
	for _, n := range names[:3] {
		g := event.NewGenesis(n, map[string][]byte{"lww": []byte("x")}, make([]byte, event.NonceSize), 1)
		s := entity.State{ID: g.Entity, Collection: n, Head: event.NewClock(g.ID())}
		if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{g}, States: []storage.StateWrite{{State: s}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "indexed", Property: "p"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := e.LookupCollection(ctx, n); err != nil {
			t.Errorf("LookupCollection(%q) of a written collection: %v", n, err)
		}
	}
	got, err := e.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Collections = %q, want %q", got, want)
	}
}

func TestRemoveRow_UnknownRowsAndKinds(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t)
	b, ids := create(1, "one", func(int) map[string]value.Value { return nil })
	if err := e.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		coll, kind string
		key        []byte
		want       error
	}{
		{"nosuch", "state", ids[0][:], storage.ErrNotFound},
		{coll, "state", []byte{1, 2, 3}, storage.ErrNotFound},
		{coll, "event", bytes.Repeat([]byte{9}, id.Size), storage.ErrNotFound},
		{coll, "index", ids[0][:], storage.ErrInvalid},
	} {
		if err := e.RemoveRow(ctx, tc.coll, tc.kind, tc.key); !errors.Is(err, tc.want) {
			t.Errorf("RemoveRow(%q, %q, %x) = %v, want %v", tc.coll, tc.kind, tc.key, err, tc.want)
		}
	}
	if err := e.BadRows(ctx, "nosuch", func(storage.BadRow) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("BadRows of an unknown collection = %v, want ErrNotFound", err)
	}
}
