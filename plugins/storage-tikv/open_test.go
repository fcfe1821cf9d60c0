package tikv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

func TestOpen_RefusesNoAddresses(t *testing.T) {
	if _, err := tikv.Open(context.Background(), nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Open(nil): %v, want storage.ErrInvalid", err)
	}
}

func TestOpen_ReturnsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Nothing listens on port 1, and Open does not even try.
	if _, err := tikv.Open(ctx, []string{"127.0.0.1:1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open: %v, want context.Canceled", err)
	}
}
