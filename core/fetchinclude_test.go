package core_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
)

// A fetch with includes returns each row's referenced entity (forward)
// and the entities referring to the rows (reverse), each include sorted by
// id; a deleted entity and a reference to nothing are left out.
func TestFetchIncluding_ReturnsForwardAndReverseIncludes(t *testing.T) {
	ctx := context.Background()
	m := newMusic(t)
	m.seed()
	res, err := m.c.FetchIncluding(ctx, "album", "title != ?", "Nothing", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(res.Items); !slices.Equal(got, []string{"a1", "a2", "a3"}) {
		t.Fatalf("rows = %v", got)
	}
	arts := res.Included["artist"]
	if got := m.names(arts); !slices.Equal(got, []string{"blur", "muse"}) {
		t.Fatalf("included artists = %v", got)
	}
	if !slices.IsSortedFunc(arts, func(a, b *core.View) int { return a.ID().Compare(b.ID()) }) {
		t.Fatal("included artists are not sorted by id")
	}

	res, err = m.c.FetchIncluding(ctx, "artist", "true", core.IncludeReverse("albums", "album.artist"), core.Include("label"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(res.Included["albums"]); !slices.Equal(got, []string{"a1", "a2", "a3"}) {
		t.Fatalf("reverse include = %v", got)
	}
	if got := m.names(res.Included["label"]); !slices.Equal(got, []string{"subpop", "warp"}) {
		t.Fatalf("labels = %v", got)
	}

	// A deleted artist and a reference to an entity that never existed
	// are not included; an include with no related entity is empty.
	m.delete("artist", "blur")
	m.create("album", "a4", map[string]any{"title": "Ghost", "artist": value.Ref(id.EntityID{7})})
	res, err = m.c.FetchIncluding(ctx, "album", "true", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(res.Included["artist"]); !slices.Equal(got, []string{"muse"}) {
		t.Fatalf("after the delete, included artists = %v", got)
	}
	res, err = m.c.FetchIncluding(ctx, "album", "title = 'none'", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	if inc, ok := res.Included["artist"]; !ok || len(inc) != 0 || len(res.Items) != 0 {
		t.Fatalf("no rows: items %d, included %v (present %v)", len(res.Items), inc, ok)
	}
}

// Includes that are not declared relations, repeated names, and includes
// passed to Fetch (which returns rows only) are refused with ErrInclude;
// After continues a fetch after a cursor.
func TestFetchIncluding_RefusesBadIncludesAndFetchTakesNone(t *testing.T) {
	ctx := context.Background()
	m := newMusic(t)
	m.seed()
	for name, opts := range map[string][]any{
		"not a relation": {core.Include("title")},
		"twice":          {core.Include("artist"), core.Include("artist")},
		"bad reverse":    {core.IncludeReverse("x", "album.title")},
	} {
		if _, err := m.c.FetchIncluding(ctx, "album", "true", opts...); !errors.Is(err, core.ErrInclude) {
			t.Fatalf("%s: err = %v, want ErrInclude", name, err)
		}
	}
	if _, err := m.c.Fetch(ctx, "album", "true", core.Include("artist")); !errors.Is(err, core.ErrInclude) {
		t.Fatalf("Fetch with an include: err = %v, want ErrInclude", err)
	}
	first, err := m.c.FetchPage(ctx, "album", "true ORDER BY title LIMIT 1", "")
	if err != nil {
		t.Fatal(err)
	}
	rest, err := m.c.Fetch(ctx, "album", "true ORDER BY title", core.After(first.Next))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(rest); !slices.Equal(got, []string{"a2", "a3"}) {
		t.Fatalf("Fetch after %s = %v, want the two after Absolution", m.names(first.Items), got)
	}
}

// An include never holds an entity the caller may not read, forward or
// reverse.
func TestFetchIncluding_LeavesOutWhatTheCallerMayNotRead(t *testing.T) {
	ctx := context.Background()
	n := newNodeOn(t, memory.New(), hideSecret{})
	if err := n.DeclareRelations(core.Relation{Collection: "album", Property: "artist", Target: "artist"}); err != nil {
		t.Fatal(err)
	}
	m := &music{t: t, n: n, c: n.Context(nil), ids: map[string]id.EntityID{}, of: map[id.EntityID]string{}}
	m.create("artist", "muse", map[string]any{"name": "Muse"})
	m.create("artist", "hidden", map[string]any{"name": "secret"})
	m.create("album", "a1", map[string]any{"title": "Absolution", "artist": "@muse"})
	m.create("album", "a2", map[string]any{"title": "X", "artist": "@hidden"})
	m.create("album", "a3", map[string]any{"name": "secret", "artist": "@muse"})
	res, err := m.c.FetchIncluding(ctx, "album", "true", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(res.Included["artist"]); !slices.Equal(got, []string{"muse"}) {
		t.Fatalf("included artists = %v, want only the readable one", got)
	}
	res, err = m.c.FetchIncluding(ctx, "artist", "true", core.IncludeReverse("albums", "album.artist"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.names(res.Items); !slices.Equal(got, []string{"muse"}) {
		t.Fatalf("artists = %v", got)
	}
	if got := m.names(res.Included["albums"]); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("albums of the readable artists = %v, want a1 (a3 is unreadable)", got)
	}
}

// An ephemeral client's fetch with includes asks its durable peer for the
// related entities it never read, in one request per include.
func TestFetchIncluding_OnAnEphemeralClientReadsThroughTheServer(t *testing.T) {
	ctx := context.Background()
	m := newMusic(t)
	m.seed()
	cl := m.client(core.Relation{Collection: "album", Property: "artist", Target: "artist"})
	res, err := cl.Context(nil).FetchIncluding(ctx, "album", "title = ?", "Absolution", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || len(res.Included["artist"]) != 1 || str(res.Included["artist"][0].Get("name")) != "Muse" {
		t.Fatalf("client's fetch = %d rows, artists %v", len(res.Items), res.Included["artist"])
	}
	// Renamed on the server: the client's next fetch reads the new name.
	m.edit("artist", "muse", map[string]any{"name": "MUSE"})
	res, err = cl.Context(nil).FetchIncluding(ctx, "album", "title = ?", "Absolution", core.Include("artist"))
	if err != nil {
		t.Fatal(err)
	}
	if got := str(res.Included["artist"][0].Get("name")); got != "MUSE" {
		t.Fatalf("after the rename the client read %q", got)
	}
	res, err = cl.Context(nil).FetchIncluding(ctx, "artist", "name = ?", "Blur", core.IncludeReverse("albums", "album.artist"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Included["albums"]) != 1 || str(res.Included["albums"][0].Get("title")) != "Parklife" {
		t.Fatalf("client's reverse include = %v", res.Included["albums"])
	}
}
