package storageplugin_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
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

func TestErrors_EngineOpenErrorsKeepTheirMessageAndKind(t *testing.T) {
	tests := []struct {
		kind     string
		want     error
		contains string
	}{
		{"format", storage.ErrFormat, "format version 9"},
		{"locked", storage.ErrUnavailable, "openplugin: database locked"},
		{"plain", nil, "openplugin: disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "data")
			e, err := storageplugin.Open(t.Context(), bin(t, "openplugin"), storageplugin.WithArgs(file, tt.kind))
			if err == nil {
				_ = e.Close()
				t.Fatal("Open of an engine that fails to open succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want an error wrapping %v", err, tt.want)
			}
			if errors.Is(err, storageplugin.ErrUnavailable) {
				t.Errorf("Open = %v: the engine's open error came back as the plugin process being unavailable", err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Open = %q, want the engine's own message (%q)", err, tt.contains)
			}
		})
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
