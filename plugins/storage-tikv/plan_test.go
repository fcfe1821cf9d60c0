package tikv

import (
	"bytes"
	"testing"

	"github.com/ankurah/ankurah-go/core/keyenc"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/value"
)

func TestMakePlan_PicksIndexAndDirection(t *testing.T) {
	k := newKeys("p")
	indexes := map[string][]byte{"n": k.index("c", "n"), "group": k.index("c", "group")}
	tests := []struct {
		query   string
		args    []any
		prop    string
		ranges  int
		reverse bool
		stream  bool
	}{
		{"true", nil, "", 0, false, true},
		{"true ORDER BY n", nil, "", 0, false, false}, // no LIMIT: a scan of the states is cheaper
		{"true ORDER BY n DESC LIMIT 5", nil, "n", 1, true, true},
		{"n >= 100 ORDER BY n DESC LIMIT 50", nil, "n", 1, true, true},
		{"n > 3 AND n < 9", nil, "n", 1, false, false},
		{"n = 3", nil, "n", 1, false, false},
		{"n IN (3, 1, 2, 3.0)", nil, "n", 3, false, false},
		{"group = 'g07' ORDER BY n DESC LIMIT 5", nil, "group", 1, false, false}, // equality beats order
		{"group = ? ORDER BY group, n LIMIT 5", []any{"g07"}, "group", 1, false, true},
		{"group LIKE 'g0%' ORDER BY n", nil, "group", 1, false, false},
		{"n > 5 AND group = 'a'", nil, "group", 1, false, false},
		{"other = 1", nil, "", 0, false, true},
		{"n != 3", nil, "", 0, false, true},
		{"n = 1 OR n = 2", nil, "", 0, false, true},
		{"meta.n = 1", nil, "", 0, false, true}, // a JSON path is not the property's value
		{"n = NULL", nil, "n", 0, false, false}, // never true: nothing to scan
		{"n > 5 AND n < 3", nil, "n", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			sel, err := query.Parse(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			b, err := sel.Bind(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			p := makePlan(b, indexes)
			if p.prop != tt.prop || len(p.ranges) != tt.ranges || p.reverse != tt.reverse || p.stream != tt.stream {
				t.Errorf("plan = {prop %q, %d ranges, reverse %v, stream %v}, want {%q, %d, %v, %v}",
					p.prop, len(p.ranges), p.reverse, p.stream, tt.prop, tt.ranges, tt.reverse, tt.stream)
			}
		})
	}
}

func TestMakePlan_RangesHoldExactlyTheMatchingKinds(t *testing.T) {
	ix := newKeys("p").index("c", "n")
	indexes := map[string][]byte{"n": ix}
	entry := func(v value.Value) []byte { return keyenc.Append(bytes.Clone(ix), v) }
	in := func(p plan, key []byte) bool {
		for _, r := range p.ranges {
			if bytes.Compare(r.start, key) <= 0 && bytes.Compare(key, r.end) < 0 {
				return true
			}
		}
		return false
	}
	tests := []struct {
		query string
		in    []value.Value
		out   []value.Value
	}{
		{"n > 5", []value.Value{value.Int(6), value.Float(5.5), value.Float(1e300)}, []value.Value{value.Int(5), value.String("6"), value.Null, value.Bool(true)}},
		{"n <= 5", []value.Value{value.Int(5), value.Float(-1e300), value.Int(-9)}, []value.Value{value.Int(6), value.Null, value.Bool(false)}},
		{"n = 1", []value.Value{value.Int(1), value.Float(1.0)}, []value.Value{value.Int(2), value.String("1")}},
		{"n LIKE 'ab%'", []value.Value{value.String("ab"), value.String("abz")}, []value.Value{value.String("a"), value.String("ac"), value.Bytes([]byte("ab"))}},
		{"n LIKE 'ab'", []value.Value{value.String("ab")}, []value.Value{value.String("abc")}},
		{"n IN ('x', 2)", []value.Value{value.String("x"), value.Float(2)}, []value.Value{value.String("y"), value.Int(3)}},
		{"n >= 'm' AND n < 'p'", []value.Value{value.String("m"), value.String("ozz")}, []value.Value{value.String("p"), value.String("l"), value.Int(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			sel, err := query.Parse(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := sel.Bind()
			p := makePlan(b, indexes)
			if p.prop != "n" {
				t.Fatalf("plan scans %q, want the index on n", p.prop)
			}
			for _, v := range tt.in {
				if !in(p, entry(v)) {
					t.Errorf("%#v is outside the scanned ranges", v)
				}
			}
			for _, v := range tt.out {
				if in(p, entry(v)) {
					t.Errorf("%#v is inside the scanned ranges", v)
				}
			}
		})
	}
}
