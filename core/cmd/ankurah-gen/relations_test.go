package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/cmd/ankurah-gen/testdata/relations"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// These tests run the generated code of testdata/relations (a golden case)
// against a node on the memory engine.

func newRelationsNode(t *testing.T) *core.Context {
	t.Helper()
	engine := memory.New()
	node, err := core.NewNode(context.Background(), engine, policy.Permissive{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close(); engine.Close() })
	for _, rels := range [][]core.Relation{relations.Albums.Relations(), relations.Artists.Relations()} {
		if err := node.DeclareRelations(rels...); err != nil {
			t.Fatal(err)
		}
	}
	return node.Context(nil)
}

func TestGeneratedRef_GetReadsTheReferencedEntity(t *testing.T) {
	c := newRelationsNode(t)
	ctx := context.Background()
	trx := c.Begin()
	label, err := relations.Labels.Create(ctx, trx, relations.Label{Name: "Warner", Country: "UK"})
	if err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	trx = c.Begin()
	artist, err := relations.Artists.Create(ctx, trx, relations.Artist{Name: "Muse", Label: core.RefTo[relations.Label](label.ID())})
	if err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	trx = c.Begin()
	album, err := relations.Albums.Create(ctx, trx, relations.Album{Title: "Absolution", Year: 2003})
	if err != nil {
		t.Fatal(err)
	}
	if err := album.Artist().Set(core.RefTo[relations.Artist](artist.ID())); err != nil {
		t.Fatal(err)
	}
	if got := album.Artist().Get().ID(); got != artist.ID() {
		t.Fatalf("the Mut reads back ref %s, want %s", got, artist.ID())
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	v, err := relations.Albums.Get(ctx, c, album.ID())
	if err != nil {
		t.Fatal(err)
	}
	if v.Artist().ID() != artist.ID() || v.Model().Artist.ID() != artist.ID() {
		t.Fatalf("view ref = %s, model ref = %s, want %s", v.Artist().ID(), v.Model().Artist.ID(), artist.ID())
	}
	a, err := v.Artist().Get(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != "Muse" {
		t.Fatalf("artist name = %q", a.Name())
	}
	l, err := a.Label().Get(ctx, c)
	if err != nil || l.Country() != "UK" {
		t.Fatalf("label = %v, %v", l, err)
	}

	// Traversal through the generated relations.
	got, err := relations.Albums.Fetch(ctx, c, "artist.name = ? AND artist.label.country = ?", "Muse", "UK")
	if err != nil || len(got) != 1 || got[0].ID() != album.ID() {
		t.Fatalf("traversal fetch = %v, %v; want the album", got, err)
	}

	// A deleted artist: Get is ErrNotFound, and the path reads NULL.
	trx = c.Begin()
	if err := relations.Artists.Delete(ctx, trx, artist.ID()); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Artist().Get(ctx, c); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of a deleted artist: %v, want storage.ErrNotFound", err)
	}
	for q, want := range map[string]int{"artist.name = 'Muse'": 0, "artist.name IS NULL": 1, "NOT artist.name = 'Muse'": 0} {
		got, err := relations.Albums.Fetch(ctx, c, q)
		if err != nil || len(got) != want {
			t.Errorf("%s after the artist was deleted: %d results (%v), want %d", q, len(got), err, want)
		}
	}
}

func TestGeneratedRef_ZeroRefIsNull(t *testing.T) {
	c := newRelationsNode(t)
	ctx := context.Background()
	trx := c.Begin()
	m, err := relations.Albums.Create(ctx, trx, relations.Album{Title: "Demo"})
	if err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := relations.Albums.Get(ctx, c, m.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !v.Artist().IsZero() || !v.Entity().Get("artist").IsNull() {
		t.Fatalf("an unset ref reads %v", v.Entity().Get("artist"))
	}
	if _, err := v.Artist().Get(ctx, c); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of an unset ref: %v, want storage.ErrNotFound", err)
	}
	got, err := relations.Albums.Fetch(ctx, c, "artist IS NULL")
	if err != nil || len(got) != 1 {
		t.Fatalf("artist IS NULL: %v, %v", got, err)
	}
}

func TestRefusesRefsToNonModels(t *testing.T) {
	pkg, err := load(mustAbs(t, "testdata/bad"), ".", "")
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]string{
		"RefToNonModel": "core.Ref[Inner] refers to a type that is not a model",
		"PtrRef":        "a pointer to core.Ref",
	} {
		_, err := findModels(pkg, []string{typ}, "")
		if !errors.Is(err, errModel) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error mentioning %q", typ, err, want)
		}
	}
}

// The typed layer carries includes: FetchIncluding's result and a live
// query's ChangeSets hold the included artists as ArtistViews.
func TestGeneratedIncludes_AreTyped(t *testing.T) {
	c := newRelationsNode(t)
	ctx := context.Background()
	trx := c.Begin()
	artist, err := relations.Artists.Create(ctx, trx, relations.Artist{Name: "Muse"})
	if err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	trx = c.Begin()
	if _, err := relations.Albums.Create(ctx, trx, relations.Album{Title: "Absolution", Artist: core.RefTo[relations.Artist](artist.ID())}); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := relations.Albums.FetchIncluding(ctx, c, "true", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || len(res.IncludedArtist()) != 1 || res.IncludedArtist()[0].Name() != "Muse" {
		t.Fatalf("FetchIncluding = %d albums, artists %v", len(res.Items), res.IncludedArtist())
	}
	lq, err := relations.Albums.Query(ctx, c, "true", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	sets := make(chan relations.AlbumChangeSet, 8)
	defer lq.Subscribe(func(cs relations.AlbumChangeSet) { sets <- cs })()
	if cs := <-sets; len(cs.IncludedArtist()) != 1 || len(cs.IncludeChanges) != 1 || cs.IncludeChanges[0].Kind != core.Initial {
		t.Fatalf("initial ChangeSet includes %v, changes %v", cs.IncludedArtist(), cs.IncludeChanges)
	}
	trx = c.Begin()
	m, err := relations.Artists.Edit(ctx, trx, artist.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Name().Set("MUSE"); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case cs := <-sets:
		if len(cs.IncludedArtist()) != 1 || cs.IncludedArtist()[0].Name() != "MUSE" || lq.IncludedArtist()[0].Name() != "MUSE" {
			t.Fatalf("after the rename: ChangeSet %v, live query %v", cs.IncludedArtist(), lq.IncludedArtist())
		}
	case <-time.After(10 * time.Second): // a guard against hanging
		t.Fatal("no ChangeSet after the artist's rename")
	}
}
