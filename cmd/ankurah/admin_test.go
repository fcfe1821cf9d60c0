package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// dataDirWithBadRow makes a data directory as serve leaves it, with one good
// album and, written with plain bbolt as an older build could have, one
// state that does not decode. It returns the directory and the bad key.
func dataDirWithBadRow(t *testing.T) (string, id.EntityID, id.EntityID) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ankurah.db")
	e, err := bolt.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.NewGenesis("album", map[string][]byte{"lww": []byte("x")}, make([]byte, event.NonceSize), 1)
	good := entity.State{ID: ev.Entity, Collection: "album", Head: event.NewClock(ev.ID()), Values: value.FieldsOf(map[string]value.Value{"name": value.String("Showbiz")})}
	if err := e.Apply(ctx, &storage.Batch{Events: []event.Event{ev}, States: []storage.StateWrite{{State: good}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Collection(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	bad := id.EntityID(sha256.Sum256([]byte("bad")))
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		// The key-value toolkit's state key: tag 's', the collection, the id.
		key := append(keyenc.AppendString([]byte{'s'}, "album"), bad[:]...)
		return tx.Bucket([]byte("kv")).Put(key, []byte("\xa1\x01not a state"))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir, good.ID, bad
}

func TestAdmin_BadRowsListsAndRemoveRowRemoves(t *testing.T) {
	ctx := context.Background()
	dir, good, bad := dataDirWithBadRow(t)
	key := base64.RawURLEncoding.EncodeToString(bad[:])

	for _, args := range [][]string{
		{"admin", "bad-rows", "--data-dir", dir},
		{"admin", "bad-rows", "--data-dir", dir, "album"},
		{"admin", "bad-rows", "--storage", "bolt://" + filepath.Join(dir, "ankurah.db")},
	} {
		var out, errOut bytes.Buffer
		if err := run(ctx, args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		fields := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\t")
		if len(fields) != 4 || fields[0] != "album" || fields[1] != "state" || fields[2] != key || fields[3] == "" || strings.Count(out.String(), "\n") != 1 {
			t.Errorf("%v printed %q, want one line: album, state, %s, the error", args, out.String(), key)
		}
		if !strings.Contains(errOut.String(), "1 undecodable rows in 1 of") {
			t.Errorf("%v summary: %q", args, errOut.String())
		}
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"admin", "remove-row", "--data-dir", dir, "album", "state", key}, &out, io.Discard); err != nil {
		t.Fatalf("remove-row: %v", err)
	}
	if !strings.Contains(out.String(), "removed state "+key) {
		t.Errorf("remove-row printed %q", out.String())
	}
	err := run(ctx, []string{"admin", "remove-row", "--data-dir", dir, "album", "state", key}, io.Discard, io.Discard)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("remove-row of a row already removed: %v, want ErrNotFound", err)
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "bad-rows", "--data-dir", dir}, &out, io.Discard); err != nil || out.Len() != 0 {
		t.Errorf("bad-rows after the removal printed %q, %v; want nothing", out.String(), err)
	}

	// The good album is untouched.
	e, err := bolt.Open(ctx, filepath.Join(dir, "ankurah.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c, err := e.LookupCollection(ctx, "album")
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := query.ParseBound("true")
	states, err := c.FetchStates(ctx, sel)
	if err != nil || len(states) != 1 || states[0].ID != good {
		t.Errorf("album after the repair = %d states, %v; want the good one", len(states), err)
	}
}

func TestAdmin_RefusesWhatItCannotDo(t *testing.T) {
	ctx := context.Background()
	dir, _, bad := dataDirWithBadRow(t)
	key := base64.RawURLEncoding.EncodeToString(bad[:])
	missing := filepath.Join(t.TempDir(), "nosuch")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"admin", "bad-rows", "--data-dir", missing}, "no bolt database"},
		{[]string{"admin", "bad-rows", "--data-dir", dir, "nosuch"}, "no collection nosuch"},
		{[]string{"admin", "bad-rows", "--storage", "memory://"}, "nothing to repair"},
		{[]string{"admin", "remove-row", "--data-dir", dir, "album", "state"}, "want COLLECTION KIND KEY"},
		{[]string{"admin", "remove-row", "--data-dir", dir, "album", "index", key}, "want state or event"},
		{[]string{"admin", "remove-row", "--data-dir", dir, "album", "state", "not base64!"}, "not base64url"},
		{[]string{"admin", "frobnicate"}, "frobnicate"},
	}
	for _, tc := range tests {
		err := run(ctx, tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad-rows on a missing data directory created it: %v", err)
	}

	// A running server holds the bolt file: the error says to stop it.
	e, err := bolt.Open(ctx, filepath.Join(dir, "ankurah.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = run(ctx, []string{"admin", "bad-rows", "--data-dir", dir}, io.Discard, io.Discard)
	if !errors.Is(err, bolt.ErrLocked) || !strings.Contains(err.Error(), "stop ankurah serve") {
		t.Errorf("bad-rows on a bolt file in use: %v, want ErrLocked and a hint", err)
	}

	var help bytes.Buffer
	if err := run(ctx, []string{"admin", "help"}, &help, io.Discard); err != nil || !strings.Contains(help.String(), "remove-row") {
		t.Errorf("admin help: %v\n%s", err, help.String())
	}
}
