package query_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

// rels is a fixed set of relations: album.artist -> artist, artist.label ->
// label, label.parent -> company, company.owner -> owner, owner.heir ->
// heir, artist.album -> album (for cycles).
type rels map[string]map[string]string

func (r rels) Target(c, p string) (string, bool) { t, ok := r[c][p]; return t, ok }

var testRels = rels{
	"album":   {"artist": "artist"},
	"artist":  {"label": "label", "album": "album"},
	"label":   {"parent": "company"},
	"company": {"owner": "owner"},
	"owner":   {"heir": "heir"},
	"heir":    {"parent": "heir"},
}

func TestSplitTraversals_FollowsDeclaredRefsOnly(t *testing.T) {
	tests := []struct {
		q    string
		hops []string // per traversal term: the hop properties joined by ">"
		rest []string
	}{
		{"artist.name = 'Muse'", []string{"artist"}, []string{"name"}},
		{"artist.label.country IN ('UK', 'US')", []string{"artist>label"}, []string{"country"}},
		{"artist.meta.producer = 'x'", []string{"artist"}, []string{"meta.producer"}},
		{"meta.producer = 'x'", nil, nil},
		{"artist = 'x'", nil, nil},
		{"year > 2000 AND NOT artist.name IS NULL", []string{"artist"}, []string{"name"}},
		{"artist.label.parent.owner.name = 'x'", []string{"artist>label>parent>owner"}, []string{"name"}},
	}
	for _, tt := range tests {
		b, err := query.ParseBound(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := query.SplitTraversals(b.Where, "album", testRels)
		if err != nil {
			t.Fatalf("%s: %v", tt.q, err)
		}
		if tt.hops == nil {
			if tr != nil {
				t.Errorf("%s: split %d traversal terms, want none", tt.q, len(tr.Terms))
			}
			continue
		}
		if tr == nil || len(tr.Terms) != len(tt.hops) {
			t.Fatalf("%s: got %v, want %d terms", tt.q, tr, len(tt.hops))
		}
		for i, term := range tr.Terms {
			var hs []string
			for _, h := range term.Hops {
				hs = append(hs, h.Property)
			}
			if got := strings.Join(hs, ">"); got != tt.hops[i] || strings.Join(term.Rest, ".") != tt.rest[i] {
				t.Errorf("%s: term %d follows %s then reads %v, want %s then %s", tt.q, i, got, term.Rest, tt.hops[i], tt.rest[i])
			}
		}
	}
}

func TestSplitTraversals_RefusesDepthAndCycles(t *testing.T) {
	for q, want := range map[string]string{
		"artist.album.name = 'x'":                    `comes back to collection "album"`,
		"artist.label.parent.owner.heir.x = 1":       "more than 4 references",
		"artist.album.artist.name = 'x'":             "comes back",
		"NOT (artist.album.title = 'x' OR year = 1)": "comes back",
	} {
		b, err := query.ParseBound(q)
		if err != nil {
			t.Fatal(err)
		}
		_, err = query.SplitTraversals(b.Where, "album", testRels)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", q, err)
			}
			continue
		}
		if !errors.Is(err, query.ErrTraversal) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an ErrTraversal mentioning %q", q, err, want)
		}
	}
	tree := rels{"node": {"parent": "node"}}
	b, _ := query.ParseBound("parent.parent.name = 'root'")
	if tr, err := query.SplitTraversals(b.Where, "node", tree); err != nil || len(tr.Terms) != 1 || len(tr.Terms[0].Hops) != 2 {
		t.Errorf("a reference to its own collection: %v, %v; want two hops", tr, err)
	}
	b, _ = query.ParseBound("parent.parent.parent.parent.parent.name = 'root'")
	if _, err := query.SplitTraversals(b.Where, "node", tree); !errors.Is(err, query.ErrTraversal) {
		t.Errorf("five hops to itself: %v, want ErrTraversal", err)
	}
	deep := rels{"a": {"n": "b"}, "b": {"n": "c"}, "c": {"n": "d"}, "d": {"n": "e"}, "e": {"n": "f"}}
	b, _ = query.ParseBound("n.n.n.n.n.x = 1")
	if _, err := query.SplitTraversals(b.Where, "a", deep); !errors.Is(err, query.ErrTraversal) || !strings.Contains(err.Error(), "more than 4") {
		t.Errorf("five hops: %v, want ErrTraversal naming the depth", err)
	}
}

// The rewritten predicate is what the evaluators compile: both must agree
// with the three-valued rules when the path resolves through a lookup.
func TestCompileTraversed_BothEvaluatorsResolveThroughLookup(t *testing.T) {
	muse, gone := id.EntityID{1}, id.EntityID{2}
	artists := map[id.EntityID]map[string]value.Value{muse: {"name": value.String("Muse")}}
	lookup := func(coll string, eid id.EntityID) (value.Fields, bool) {
		v, ok := artists[eid]
		return value.FieldsOf(v), ok && coll == "artist"
	}
	albums := map[string]map[string]value.Value{
		"muse":     {"artist": value.Ref(muse)},
		"dangling": {"artist": value.Ref(gone)},
		"none":     {},
		"notref":   {"artist": value.String("Muse")},
	}
	tests := []struct {
		q    string
		want []string
	}{
		{"artist.name = 'Muse'", []string{"muse"}},
		{"artist.name != 'Muse'", nil},
		{"NOT artist.name = 'Muse'", nil},
		{"artist.name IS NULL", []string{"dangling", "none", "notref"}},
		{"artist.name IS NOT NULL", []string{"muse"}},
		{"artist.name IN ('Muse', 'Blur')", []string{"muse"}},
		{"artist.name NOT IN ('Blur')", []string{"muse"}},
		{"artist.name LIKE 'M%' OR artist IS NULL", []string{"muse", "none"}},
	}
	for _, ev := range []struct {
		name    string
		compile func(*query.Bound, query.Schema) (query.Program, error)
	}{{"interp", query.CompileInterp}, {"cel", query.CompileCEL}} {
		for _, tt := range tests {
			b, err := query.ParseBound(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := query.SplitTraversals(b.Where, "album", testRels)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := query.CompileTraversed(tr, ev.compile, lookup)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, name := range []string{"muse", "dangling", "none", "notref"} {
				ok, err := prog.Match(value.FieldsOf(albums[name]))
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got = append(got, name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("%s/%s: matched %v, want %v", ev.name, tt.q, got, tt.want)
			}
		}
	}
}

func TestTraversed_RewriteTracksNegation(t *testing.T) {
	b, _ := query.ParseBound("artist.name = 'a' AND NOT (artist.name = 'b' OR NOT artist.label.x = 1)")
	tr, err := query.SplitTraversals(b.Where, "album", testRels)
	if err != nil {
		t.Fatal(err)
	}
	var neg []bool
	out := tr.Rewrite(func(i int, negated bool) query.Expr {
		neg = append(neg, negated)
		return &query.Literal{Value: true}
	})
	if len(neg) != 3 || neg[0] || !neg[1] || neg[2] {
		t.Fatalf("negation per term = %v, want [false true false]", neg)
	}
	if got := (&query.Bound{Where: out, Limit: -1}).String(); got != "true AND NOT (true OR NOT true)" {
		t.Errorf("rewritten = %s", got)
	}
}
