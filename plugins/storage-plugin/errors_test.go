package storageplugin_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

func TestErrors_SentinelsSurviveTheBoundary(t *testing.T) {
	ctx := context.Background()
	e := open(t, "ankurah-storage-memory")
	c := collection(t, e, "album")
	ev, st := created("album", "a", map[string]value.Value{"name": value.String("A")})
	if err := e.Apply(ctx, createBatch(ev, st)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"GetState of a missing entity", func() error {
			_, err := c.GetState(ctx, id.EntityID{1})
			return err
		}, storage.ErrNotFound},
		{"Apply creating a stored entity", func() error {
			return e.Apply(ctx, createBatch(ev, st))
		}, storage.ErrConflict},
		{"Collection with an empty name", func() error {
			_, err := e.Collection(ctx, "")
			return err
		}, storage.ErrInvalid},
		{"Apply of a state without collection", func() error {
			_, bad := created("album", "b", nil)
			bad.Collection = ""
			return e.Apply(ctx, createBatch(ev, bad))
		}, storage.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want an error wrapping %v", err, tt.want)
			}
		})
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.FetchStates(ctx, &query.Bound{Limit: -1}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("FetchStates after Close = %v, want storage.ErrClosed", err)
	}
}

func TestErrors_EngineOpenErrorFailsOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-bolt.db")
	if err := os.WriteFile(path, []byte("this is not a bolt database, not even close; it only has to be long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := storageplugin.Open(t.Context(), bin(t, "ankurah-storage-bolt"), storageplugin.WithArgs(path))
	if err == nil {
		_ = e.Close()
		t.Fatal("Open of a bolt plugin on a file that is not a bolt database succeeded")
	}
	if !errors.Is(err, storage.ErrFormat) {
		t.Fatalf("Open = %v, want an error wrapping storage.ErrFormat", err)
	}
}

func TestIndexer_PassesThroughWhenTheEngineHasIt(t *testing.T) {
	tests := []struct {
		plugin string
		want   bool
	}{
		{"ankurah-storage-memory", true},
		{"ankurah-storage-example", false},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			e := open(t, tt.plugin)
			ix, ok := e.(storage.Indexer)
			if ok != tt.want {
				t.Fatalf("engine implements storage.Indexer = %v, want %v", ok, tt.want)
			}
			if ok {
				if err := ix.DeclareIndex(t.Context(), storage.Index{Collection: "album", Property: "year"}); err != nil {
					t.Fatalf("DeclareIndex: %v", err)
				}
				err := ix.DeclareIndex(t.Context(), storage.Index{Collection: "album"})
				if !errors.Is(err, storage.ErrInvalid) {
					t.Fatalf("DeclareIndex without property = %v, want storage.ErrInvalid", err)
				}
			}
		})
	}
}
