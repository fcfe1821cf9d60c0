package bolt_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// mixedValues are what the indexed property holds: every kind, numbers
// that are equal across int and float, and strings that share prefixes.
var mixedValues = []value.Value{
	value.Null, value.Bool(false), value.Bool(true),
	value.Int(-3), value.Int(0), value.Int(1), value.Float(1.0), value.Float(1.5), value.Int(2),
	value.Int(math.MaxInt64), value.Float(9223372036854775808.0), value.Float(math.Inf(-1)),
	value.String(""), value.String("a"), value.String("ab"), value.String("abc"), value.String("b"),
	value.String("a\x00"), value.Bytes([]byte("a")), value.MustJSON(`{"a":1}`), value.MustJSON(`1`),
}

// literals are what queries compare against.
var literals = []string{"NULL", "true", "false", "-3", "0", "1", "1.0", "1.5", "2", "9223372036854775807",
	"''", "'a'", "'ab'", "'b'", "'zz'"}

func randomSelection(r *rand.Rand) string {
	lit := func() string { return literals[r.IntN(len(literals))] }
	prop := func() string { return []string{"x", "y", "x", "z"}[r.IntN(4)] }
	term := func() string {
		switch r.IntN(10) {
		case 0:
			return prop() + " = " + lit()
		case 1:
			return prop() + " IN (" + lit() + ", " + lit() + ", " + lit() + ")"
		case 2:
			return prop() + " NOT IN (" + lit() + ")"
		case 3:
			return prop() + " " + []string{"<", "<=", ">", ">="}[r.IntN(4)] + " " + lit()
		case 4:
			return prop() + " LIKE '" + []string{"a%", "ab%", "%b", "a_", "ab", "", "%"}[r.IntN(7)] + "'"
		case 5:
			return prop() + " IS NULL"
		case 6:
			return prop() + " != " + lit()
		case 7:
			return "(" + prop() + " = " + lit() + " OR " + prop() + " > " + lit() + ")"
		case 8:
			return "NOT " + prop() + " < " + lit()
		default:
			return "true"
		}
	}
	terms := []string{term()}
	for r.IntN(2) == 0 {
		terms = append(terms, term())
	}
	q := strings.Join(terms, " AND ")
	if r.IntN(3) > 0 {
		q += " ORDER BY " + prop() + []string{"", " ASC", " DESC"}[r.IntN(3)]
		if r.IntN(2) == 0 {
			q += ", " + prop() + []string{"", " DESC"}[r.IntN(2)]
		}
	}
	if r.IntN(2) == 0 {
		q += fmt.Sprintf(" LIMIT %d", r.IntN(6))
	}
	return q
}

// TestFetchStates_IndexesNeverChangeAnswers compares every answer of an
// engine with indexes on x and y against the residual filter over all
// states, for random selections over values of every kind, including after
// updates that move entities between index keys.
func TestFetchStates_IndexesNeverChangeAnswers(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t, boltNoSync())
	r := rand.New(rand.NewPCG(7, 8))
	pick := func() value.Value { return mixedValues[r.IntN(len(mixedValues))] }
	row := func() map[string]value.Value {
		m := map[string]value.Value{"x": pick(), "y": pick(), "z": pick()}
		if r.IntN(5) == 0 {
			delete(m, "x") // missing is NULL
		}
		return m
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "t", Property: "x"}); err != nil {
		t.Fatal(err)
	}
	var all []entity.State
	for i := range 120 {
		all = append(all, create(t, e, "t", uint64(i), row()))
	}
	// y's index is built over existing data; x's was maintained by Apply.
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "t", Property: "y"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(all); i += 3 {
		next, err := update(t, e, all[i], row())
		if err != nil {
			t.Fatal(err)
		}
		all[i] = next
	}
	c, err := e.Collection(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	plans := map[string]int{}
	for range 1000 {
		q := randomSelection(r)
		sel := mustBound(t, q)
		prog, err := query.Compile(sel, nil)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		want, err := storage.Residual(cloneStates(all), prog, sel.OrderBy, sel.Limit)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.FetchStates(ctx, sel)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		plan, _ := e.Explain(ctx, "t", sel)
		plans[strings.SplitN(plan, ",", 2)[0]]++
		if len(got) != len(want) {
			t.Fatalf("%s (plan: %s): %d states, want %d", q, plan, len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID {
				t.Fatalf("%s (plan: %s): row %d is %s, want %s", q, plan, i, got[i].ID, want[i].ID)
			}
		}
	}
	// The random selections must exercise both indexes and the full scan.
	for _, p := range []string{`index "x"`, `index "y"`, "full scan by entity id"} {
		if plans[p] == 0 {
			t.Errorf("no selection used plan %s: %v", p, plans)
		}
	}
}

func cloneStates(s []entity.State) []entity.State { return append([]entity.State(nil), s...) }

func TestExplain_PicksTheIndexThatServesTheSelection(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t, boltNoSync())
	create(t, e, "album", 1, nil)
	for _, p := range []string{"year", "artist"} {
		if err := e.DeclareIndex(ctx, storage.Index{Collection: "album", Property: p}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		query string
		want  string
	}{
		{"artist = 'Miles'", `index "artist", 1 ranges, forward`},
		{"year > 1960 AND artist IN ('a', 'b', 'a')", `index "artist", 2 ranges, forward`},
		{"year > 1960 AND year <= 1970", `index "year", 1 ranges, forward`},
		{"year > 1960 ORDER BY year DESC LIMIT 3", `index "year", 1 ranges, reverse, serves the order`},
		{"true ORDER BY artist", `index "artist", 1 ranges, forward, serves the order`},
		{"name LIKE 'Blue%' ORDER BY year", `index "year", 1 ranges, forward, serves the order`},
		{"artist LIKE 'Mi%'", `index "artist", 1 ranges, forward`},
		{"year = 1 AND year = 2", `index "year", 0 ranges, forward`},
		{"year > 1 OR artist = 'x'", "full scan by entity id, serves the order"},
		{"name = 'x' ORDER BY name", "full scan by entity id"},
		{"meta.year = 1", "full scan by entity id, serves the order"},
		{"year != 1", "full scan by entity id, serves the order"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := e.Explain(ctx, "album", mustBound(t, tt.query))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Explain(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

// An index scan that serves the order stops at the LIMIT only after the
// last value's tie group, which must still come out by ascending entity id
// (a reverse scan meets ties in descending id order).
func TestFetchStates_LimitFinishesTiesBeforeStopping(t *testing.T) {
	ctx := context.Background()
	e, _ := openTemp(t, boltNoSync())
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "t", Property: "x"}); err != nil {
		t.Fatal(err)
	}
	var states []entity.State
	for i := range 10 {
		states = append(states, create(t, e, "t", uint64(i), map[string]value.Value{"x": value.Int(int64(i / 4))}))
	}
	c, _ := e.Collection(ctx, "t")
	for _, q := range []string{"true ORDER BY x DESC LIMIT 3", "true ORDER BY x LIMIT 5", "x >= 1 ORDER BY x DESC LIMIT 1"} {
		sel := mustBound(t, q)
		got, err := c.FetchStates(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := storage.Residual(cloneStates(states), nil, sel.OrderBy, sel.Limit)
		if fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
			t.Errorf("%s: got %v, want %v", q, ids(got), ids(want))
		}
	}
}

func ids(s []entity.State) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].ID.String()[:6]
	}
	return out
}
