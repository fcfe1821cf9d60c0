package kv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// rawSet writes one key straight into a store, as another release would.
func rawSet(t *testing.T, s kv.Store, k, v string) {
	t.Helper()
	err := s.Update(context.Background(), func(tx kv.Tx) error { return tx.Set([]byte(k), []byte(v)) })
	if err != nil {
		t.Fatal(err)
	}
}

func TestNew_FormatVersion(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, stored string
		wantErr      error
	}{
		{"new store", "", nil},
		{"format 1 is upgraded", "1", nil},
		{"same format", "2", nil},
		{"newer format", "3", storage.ErrFormat},
		{"garbage", "x", storage.ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := kv.NewMemoryStore()
			if tc.stored != "" {
				rawSet(t, s, "pv", tc.stored)
			}
			e, err := kv.New(ctx, s, kv.WithKeyPrefix([]byte("p")))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("New over format %q: %v, want %v", tc.stored, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var got []byte
			_ = s.View(ctx, func(r kv.Reader) error { got, err = r.Get(ctx, []byte("pv")); return err })
			if string(got) != "2" {
				t.Errorf("format key after New = %q, want %q", got, "2")
			}
			_ = e.Close()
		})
	}
}

func TestNew_RefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := kv.New(ctx, nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("New(nil) = %v, want ErrInvalid", err)
	}
	if _, err := kv.New(ctx, kv.NewMemoryStore(), kv.WithBatchSize(0)); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("New with batch size 0 = %v, want ErrInvalid", err)
	}
}
