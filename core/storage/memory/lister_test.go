package memory_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

func TestCollections_ListsOpenedCollectionsSorted(t *testing.T) {
	ctx := context.Background()
	e := memory.New()
	var l storage.CollectionLister = e
	if got, err := l.Collections(ctx); err != nil || len(got) != 0 {
		t.Fatalf("new engine: %v, %v", got, err)
	}
	for _, n := range []string{"todo", "album"} {
		if _, err := e.Collection(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Collections(ctx)
	if err != nil || !slices.Equal(got, []string{"album", "todo"}) {
		t.Fatalf("Collections = %v, %v; want [album todo]", got, err)
	}
	e.Close()
	if _, err := l.Collections(ctx); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
