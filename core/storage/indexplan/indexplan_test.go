package indexplan_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage/indexplan"
	"github.com/ankurah/ankurah-go/core/value"
)

func indexedSet(props ...string) func(string) bool {
	set := map[string]bool{}
	for _, p := range props {
		set[p] = true
	}
	return func(p string) bool { return set[p] }
}

func TestChoose_PicksTheIndexThatServesTheQuery(t *testing.T) {
	indexed := indexedSet("year", "name", "a", "b")
	for _, tc := range []struct {
		q      string
		args   []any
		want   string
		points bool
	}{
		{"year = ?", []any{1999}, `index "year", 1 ranges, forward`, true},
		{"year IN (?, ?, ?)", []any{1, 2, 2.0}, `index "year", 2 ranges, forward`, true},
		{"year IN (?, ?)", []any{nil, 3}, `index "year", 1 ranges, forward`, true},
		{"year = ?", []any{nil}, `index "year", 0 ranges, forward`, true},
		{"year > ? ORDER BY year DESC LIMIT 3", []any{1}, `index "year", 1 ranges, reverse, serves the order`, false},
		{"year > ? ORDER BY year LIMIT 3", []any{1}, `index "year", 1 ranges, forward, serves the order`, false},
		{"artist = ? ORDER BY name LIMIT 3", []any{"x"}, `index "name", 1 ranges, forward, serves the order`, false},
		{"true ORDER BY name DESC", nil, `index "name", 1 ranges, reverse, serves the order`, false},
		{"name LIKE ? AND year = ?", []any{"Ab%", 3}, `index "year", 1 ranges, forward`, true},
		{"name LIKE ?", []any{"Ab%"}, `index "name", 1 ranges, forward`, false},
		{"name LIKE ?", []any{"Abbey"}, `index "name", 1 ranges, forward`, true},
		{"year > ? AND year < ?", []any{1, 5}, `index "year", 1 ranges, forward`, false},
		{"year > ? AND year < ?", []any{5, 1}, `index "year", 0 ranges, forward`, false},
		{"a = ? AND b = ? ORDER BY b", []any{1, 2}, `index "b", 1 ranges, forward, serves the order`, true},
		{"b = ? AND a = ?", []any{1, 2}, `index "a", 1 ranges, forward`, true},
		{"a IN (?, ?) AND b = ? ORDER BY a", []any{1, 2, 3}, `index "b", 1 ranges, forward`, true},
		{"b > ? AND a > ?", []any{1, 2}, `index "a", 1 ranges, forward`, false},
		{"a > ? ORDER BY b DESC", []any{1}, `index "b", 1 ranges, reverse, serves the order`, false},
		{"year != ?", []any{1}, "full scan", false},
		{"year NOT IN (?)", []any{1}, "full scan", false},
		{"year IS NULL", nil, "full scan", false},
		{"year = ? OR name = ?", []any{1, "x"}, "full scan", false},
		{"year = ? OR year = ? OR year = ?", []any{3, 1, 3}, `index "year", 2 ranges, forward`, true},
		{"year >= ? OR year < ? ORDER BY year LIMIT 3", []any{"b", "a"}, `index "year", 2 ranges, forward, serves the order`, false},
		{"year IS NULL OR year <= ? ORDER BY year DESC LIMIT 3", []any{5}, `index "year", 2 ranges, reverse, serves the order`, false},
		{"year IS NULL OR year <= ?", []any{5}, `index "year", 2 ranges, forward`, false},
		{"year IS NOT NULL OR year <= ?", []any{5}, "full scan", false},
		{"year = ? OR year != ?", []any{1, 2}, "full scan", false},
		{"year IS NULL OR meta.year = ?", []any{1}, "full scan", false},
		{"meta.year = ?", []any{1}, "full scan", false},
		{"artist = ? ORDER BY meta.year", []any{"x"}, "full scan", false},
		{"artist = ?", []any{"x"}, "full scan", false},
	} {
		sel, err := query.ParseBound(tc.q, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		p := indexplan.Choose(sel, indexed)
		if got := p.String(); got != tc.want || p.Points != tc.points {
			t.Errorf("Choose(%s %v) = %q points=%v; want %q points=%v", tc.q, tc.args, got, p.Points, tc.want, tc.points)
		}
		if p.Desc && !p.Ordered {
			t.Errorf("Choose(%s): Desc without Ordered", tc.q)
		}
	}
}

// spanHolds reports whether the encoding k lies in one of spans.
func spanHolds(spans []indexplan.Span, k []byte) bool {
	for _, s := range spans {
		if bytes.Compare(k, s.Lo) >= 0 && (s.Hi == nil || bytes.Compare(k, s.Hi) < 0) {
			return true
		}
	}
	return false
}

func TestChoose_SpansHoldEveryMatchingValue(t *testing.T) {
	values := []value.Value{
		value.Null, value.Bool(false), value.Bool(true),
		value.Int(-3), value.Int(0), value.Int(1), value.Float(1), value.Float(1.5), value.Int(2), value.Int(7),
		value.String(""), value.String("A"), value.String("Ab"), value.String("Abbey"), value.String("Ac"), value.String("b"),
	}
	for _, tc := range []struct {
		q    string
		args []any
	}{
		{"x = ?", []any{1}},
		{"x = ?", []any{1.0}},
		{"x IN (?, ?, ?)", []any{7, "Ab", 1}},
		{"x < ?", []any{2}},
		{"x <= ?", []any{1}},
		{"x > ?", []any{1}},
		{"x >= ?", []any{1.5}},
		{"x > ? AND x <= ?", []any{0, 2}},
		{"x >= ? AND x IN (?, ?)", []any{1, 0, 7}},
		{"x LIKE ?", []any{"Ab%"}},
		{"x LIKE ?", []any{"Ab"}},
		{"x < ?", []any{"Ac"}},
		{"x > ?", []any{false}},
		{"x = ? OR x = ?", []any{7, "b"}},
		{"x >= ? OR x >= ?", []any{"Ab", false}},
		{"x IS NULL OR x <= ? OR x >= ?", []any{1, false}},
		{"x > ? OR x < ? OR x LIKE ?", []any{2, 0, "A%"}},
	} {
		sel, err := query.ParseBound(tc.q, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		prog, err := query.Compile(sel, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := indexplan.Choose(sel, indexedSet("x"))
		if p.Property != "x" {
			t.Fatalf("Choose(%s) = %s, want the x index", tc.q, p)
		}
		for _, v := range values {
			match, err := prog.Match(value.FieldsOf(map[string]value.Value{"x": v}))
			if err != nil {
				t.Fatal(err)
			}
			if match && !spanHolds(p.Spans, keyenc.Key(v)) {
				t.Errorf("%s %v: %v matches but no span holds it (%v)", tc.q, tc.args, v, p.Spans)
			}
		}
	}
}

// An engine asks Choose which index to scan and walks the spans itself.
func ExampleChoose() {
	indexed := func(prop string) bool { return prop == "year" }
	sel, err := query.ParseBound("year >= ? AND name = ? ORDER BY year DESC LIMIT 10", 1965, "Abbey Road")
	if err != nil {
		panic(err)
	}
	p := indexplan.Choose(sel, indexed)
	fmt.Println(p.Property, len(p.Spans), p.Ordered, p.Desc)
	fmt.Println(p)
	// Output:
	// year 1 true true
	// index "year", 1 ranges, reverse, serves the order
}
