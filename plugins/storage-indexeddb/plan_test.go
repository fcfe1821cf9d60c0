package indexeddb

import (
	"bytes"
	"testing"

	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

func TestMakePlan_UsesIndexesItCan(t *testing.T) {
	indexed := map[string]bool{"year": true, "name": true}
	k := func(v any) []byte { x, _ := value.From(v); return keyenc.Key(x) }
	numLo, numHi := keyenc.KindRange(value.KindInt)
	tests := []struct {
		name  string
		query string
		args  []any
		want  plan
	}{
		{"no index: full scan", "genre = 'rock'", nil, plan{}},
		{"equality on an index", "year = 1990", nil, plan{Property: "year", Ranges: []keyRange{{Lo: k(1990), Hi: k(1990)}}}},
		{"range stays within numbers", "year > ?", []any{1985}, plan{Property: "year", Ranges: []keyRange{{Lo: k(1985), LoOpen: true, Hi: numHi, HiOpen: true}}}},
		{"less than starts at the first number", "year < 2000", nil, plan{Property: "year", Ranges: []keyRange{{Lo: numLo, Hi: k(2000), HiOpen: true}}}},
		{"IN becomes sorted distinct points", "name IN ('b', 'a', 'b', NULL)", nil, plan{Property: "name", Ranges: []keyRange{{Lo: k("a"), Hi: k("a")}, {Lo: k("b"), Hi: k("b")}}}},
		{"equality preferred over a range", "year > 1 AND name = 'x'", nil, plan{Property: "name", Ranges: []keyRange{{Lo: k("x"), Hi: k("x")}}}},
		{"NOT IN is not pushed", "name NOT IN ('a')", nil, plan{}},
		{"JSON paths are not pushed", "year.x = 1", nil, plan{}},
		{"OR is not pushed", "year = 1 OR name = 'a'", nil, plan{}},
		{"comparison with NULL is not pushed", "year = NULL", nil, plan{}},
		{"ORDER BY an index with LIMIT walks it", "true ORDER BY year DESC LIMIT 3", nil, plan{Property: "year", Ordered: true, Reverse: true}},
		{"ordered walk keeps a range on its property", "year >= 2000 AND name = 'x' ORDER BY year LIMIT 3", nil, plan{Property: "year", Ordered: true, Ranges: []keyRange{{Lo: k(2000), Hi: numHi, HiOpen: true}}}},
		{"ORDER BY without LIMIT reads by predicate", "name = 'x' ORDER BY year", nil, plan{Property: "name", Ranges: []keyRange{{Lo: k("x"), Hi: k("x")}}}},
		{"ORDER BY an unindexed property", "true ORDER BY genre LIMIT 2", nil, plan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := query.ParseBound(tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			got := makePlan(b, indexed)
			if !equalPlan(got, tt.want) {
				t.Errorf("makePlan(%q) = %+v, want %+v", tt.query, got, tt.want)
			}
		})
	}
}

func equalPlan(a, b plan) bool {
	if a.Property != b.Property || a.Ordered != b.Ordered || a.Reverse != b.Reverse || len(a.Ranges) != len(b.Ranges) {
		return false
	}
	for i := range a.Ranges {
		x, y := a.Ranges[i], b.Ranges[i]
		if !bytes.Equal(x.Lo, y.Lo) || !bytes.Equal(x.Hi, y.Hi) || x.LoOpen != y.LoOpen || x.HiOpen != y.HiOpen {
			return false
		}
	}
	return true
}
