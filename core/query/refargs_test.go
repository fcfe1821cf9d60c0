package query_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
)

func TestRefArguments_MakesIDTextARefForDeclaredReferences(t *testing.T) {
	var eid id.EntityID
	eid[0], eid[31] = 7, 9
	r := rels{"album": {"artist": "artist"}}
	for _, c := range []struct{ q, want string }{
		{"artist = ?", "artist = ref'" + eid.String() + "'"},
		{"artist != ?", "artist != ref'" + eid.String() + "'"},
		{"artist IN (?, 'x') AND year > 1990", "artist IN (ref'" + eid.String() + "', 'x') AND year > 1990"},
		{"NOT (artist = ? OR title = 'a')", "NOT (artist = ref'" + eid.String() + "' OR title = 'a')"},
		// Left alone: other properties, JSON paths, ordering, text that is no id.
		{"title = ?", "title = '" + eid.String() + "'"},
		{"artist.name = ?", "artist.name = '" + eid.String() + "'"},
		{"artist > ?", "artist > '" + eid.String() + "'"},
	} {
		sel, err := query.Parse(c.q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := sel.Bind(eid.String())
		if err != nil {
			t.Fatal(err)
		}
		got := query.RefArguments(b, "album", r)
		if got.Where == nil || query.ExprString(got.Where) != c.want {
			t.Errorf("%s: got %s, want %s", c.q, query.ExprString(got.Where), c.want)
		}
		if query.ExprString(b.Where) != query.ExprString(mustBind(t, c.q, eid.String()).Where) {
			t.Errorf("%s: the bound selection was modified", c.q)
		}
	}
	b := mustBind(t, "artist = ?", "not an id")
	if got := query.RefArguments(b, "album", r); got != b {
		t.Errorf("a string that is no entity id changed the selection: %s", query.ExprString(got.Where))
	}
	if got := query.RefArguments(b, "album", nil); got != b {
		t.Error("without relations the selection changed")
	}
}

func mustBind(t *testing.T, q string, args ...any) *query.Bound {
	t.Helper()
	sel, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sel.Bind(args...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A path that follows declared references to a reference property ends in
// a ref too: `artist.label = ?` on albums compares the artist's label with
// the ref; a path whose first step is no declared reference is JSON.
func TestRefArguments_FollowsDeclaredReferencesToTheLastProperty(t *testing.T) {
	var eid id.EntityID
	eid[0], eid[31] = 7, 9
	r := rels{"album": {"artist": "artist"}, "artist": {"label": "label"}}
	for _, c := range []struct{ q, want string }{
		{"artist.label = ?", "artist.label = ref'" + eid.String() + "'"},
		{"artist.label NOT IN (?)", "artist.label NOT IN (ref'" + eid.String() + "')"},
		{"meta.label = ?", "meta.label = '" + eid.String() + "'"},
		{"artist.name = ?", "artist.name = '" + eid.String() + "'"},
	} {
		got := query.RefArguments(mustBind(t, c.q, eid.String()), "album", r)
		if query.ExprString(got.Where) != c.want {
			t.Errorf("%s: got %s, want %s", c.q, query.ExprString(got.Where), c.want)
		}
	}
}
