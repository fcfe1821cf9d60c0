package storageplugin_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// interfacesOf names the optional storage interfaces e implements.
func interfacesOf(e storage.Engine) []string {
	var out []string
	add := func(ok bool, name string) {
		if ok {
			out = append(out, name)
		}
	}
	_, ok := e.(storage.Indexer)
	add(ok, "Indexer")
	_, ok = e.(storage.CollectionLooker)
	add(ok, "CollectionLooker")
	_, ok = e.(storage.Clearer)
	add(ok, "Clearer")
	_, ok = e.(storage.CollectionLister)
	add(ok, "CollectionLister")
	_, ok = e.(storage.Explainer)
	add(ok, "Explainer")
	_, ok = e.(storage.Repairer)
	add(ok, "Repairer")
	_, ok = e.(storage.ChangeFeed)
	add(ok, "ChangeFeed")
	return out
}

func TestCapabilities_TheHostImplementsWhatThePluginDoes(t *testing.T) {
	all := []string{"Indexer", "CollectionLooker", "Clearer", "CollectionLister", "Explainer", "Repairer", "ChangeFeed"}
	tests := []struct {
		name   string
		plugin string
		opts   []storageplugin.Option
		want   []string
	}{
		{"memory at version 2", "ankurah-storage-memory", nil, all},
		{"an engine with none", "ankurah-storage-example", nil, nil},
		{"an old host (version 1 only)", "ankurah-storage-memory",
			[]storageplugin.Option{storageplugin.WithProtocolVersions(1)}, []string{"Indexer"}},
		{"an old plugin (serves version 1 only)", "ankurah-storage-memory",
			[]storageplugin.Option{storageplugin.WithEnv(storageplugin.VersionsEnv + "=1")}, []string{"Indexer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := open(t, tt.plugin, tt.opts...)
			if got := interfacesOf(e); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("the host engine implements %v, want %v", got, tt.want)
			}
			if _, ok := e.(storage.Healther); !ok {
				t.Fatal("the host engine does not implement storage.Healther")
			}
			// Whatever the version, the engine works.
			ev, st := created("album", "a", nil)
			if err := e.Apply(t.Context(), createBatch(ev, st)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if _, err := collection(t, e, "album").GetState(t.Context(), st.ID); err != nil {
				t.Fatalf("GetState: %v", err)
			}
		})
	}
}

func TestCapabilities_CallsCrossTheBoundary(t *testing.T) {
	ctx := context.Background()
	e := open(t, "ankurah-storage-memory")
	ev, st := created("album", "a", map[string]value.Value{"year": value.Int(1999)})
	if err := e.Apply(ctx, createBatch(ev, st)); err != nil {
		t.Fatal(err)
	}

	if _, err := e.(storage.CollectionLooker).LookupCollection(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LookupCollection of a missing collection = %v, want storage.ErrNotFound", err)
	}
	c, err := e.(storage.CollectionLooker).LookupCollection(ctx, "album")
	if err != nil {
		t.Fatalf("LookupCollection: %v", err)
	}
	if _, err := c.GetState(ctx, st.ID); err != nil {
		t.Errorf("GetState through a looked-up collection: %v", err)
	}
	if names, err := e.(storage.CollectionLister).Collections(ctx); err != nil || !reflect.DeepEqual(names, []string{"album"}) {
		t.Errorf("Collections = %v, %v, want [album]", names, err)
	}

	if err := e.(storage.Indexer).DeclareIndex(ctx, storage.Index{Collection: "album", Property: "year"}); err != nil {
		t.Fatal(err)
	}
	sel, err := query.ParseBound("year > 1990 ORDER BY year")
	if err != nil {
		t.Fatal(err)
	}
	x := e.(storage.Explainer)
	plan, err := x.Explain(ctx, "album", sel)
	if err != nil || plan == "" {
		t.Fatalf("Explain = %q, %v", plan, err)
	}
	if _, err := x.Explain(ctx, "album", nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Explain(nil) = %v, want storage.ErrInvalid", err)
	}

	r := e.(storage.Repairer)
	var rows int
	if err := r.BadRows(ctx, "album", func(storage.BadRow) error { rows++; return nil }); err != nil || rows != 0 {
		t.Errorf("BadRows = %d rows, %v; want none", rows, err)
	}
	if err := r.RemoveRow(ctx, "album", "state", []byte("no such key")); !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("RemoveRow of a missing row = %v, want storage.ErrNotFound or ErrInvalid", err)
	}

	// The change feed: a batch applied after FeedHead arrives whole.
	feed := e.(storage.ChangeFeed)
	head, err := feed.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev2, st2 := created("album", "b", nil)
	if err := e.Apply(ctx, createBatch(ev2, st2)); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stop := errors.New("got it")
	var got storage.FeedBatch
	err = feed.Follow(fctx, head, func(b storage.FeedBatch) error { got = b; return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("Follow = %v, want f's error", err)
	}
	if len(got.Changes) != 1 || got.Changes[0].State.ID != st2.ID || len(got.Token) == 0 {
		t.Fatalf("Follow delivered %+v, want the one state of the batch and a token", got)
	}
	if err := feed.Follow(fctx, storage.FeedToken("bogus"), func(storage.FeedBatch) error { return nil }); !errors.Is(err, storage.ErrFeedGap) {
		t.Errorf("Follow from a bogus token = %v, want storage.ErrFeedGap", err)
	}

	if err := e.(storage.Clearer).Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if _, err := collection(t, e, "album").GetState(ctx, st.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetState after Clear = %v, want storage.ErrNotFound", err)
	}
}
