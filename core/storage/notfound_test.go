package storage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage"
)

func TestNotFound_WrapsTheSentinelAndNamesTheEntity(t *testing.T) {
	eid := id.EntityID{1, 2, 3}
	err := storage.NotFound("album", eid)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("%v does not wrap ErrNotFound", err)
	}
	if msg := err.Error(); !strings.Contains(msg, eid.String()) || !strings.Contains(msg, `"album"`) || !strings.HasPrefix(msg, storage.ErrNotFound.Error()) {
		t.Fatalf("message %q does not name the entity and collection", msg)
	}
}
