package query

import (
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

type row = map[string]value.Value

var album = row{
	"name":    value.String("Kind of Blue"),
	"artist":  value.String("Miles Davis"),
	"year":    value.Int(1959),
	"rating":  value.Float(4.5),
	"live":    value.Bool(false),
	"cover":   value.Bytes([]byte{1, 2, 3}),
	"label":   value.Ref(id.EntityID{1}),
	"nothing": value.Null,
	"meta":    value.MustJSON(`{"tracks": 5, "producer": {"name": "Teo Macero", "born": 1925.0}, "ids": [7, 8], "gone": null, "title": "12", "my key": true}`),
}

func TestMatch_Semantics(t *testing.T) {
	tests := []struct {
		query string
		args  []any
		want  bool
	}{
		// comparisons within a kind
		{"year = 1959", nil, true},
		{"year != 1959", nil, false},
		{"year <> 1958", nil, true},
		{"year < 1960 AND year <= 1959 AND year > 1958 AND year >= 1959", nil, true},
		{"year < 1959", nil, false},
		{"name = 'Kind of Blue'", nil, true},
		{"name > 'Kind'", nil, true},
		{"name < 'kind'", nil, true}, // UTF-8 bytes: 'K' < 'k'
		{"name = 'kind of blue'", nil, false},
		{"live = false", nil, true},
		{"live < true", nil, true}, // false < true
		{"live > false", nil, false},
		{"cover = ?", []any{[]byte{1, 2, 3}}, true},
		{"cover < ?", []any{[]byte{1, 2, 4}}, true},
		{"label = ?", []any{id.EntityID{1}}, true},
		{"label > ?", []any{id.EntityID{0, 9}}, true},
		{"meta = ?", []any{value.MustJSON(`{"ids":[7,8],"my key":true,"gone":null,"producer":{"born":1925.0,"name":"Teo Macero"},"tracks":5,"title":"12"}`)}, true},
		// int and float compare numerically, exactly
		{"year = 1959.0", nil, true},
		{"rating > 4", nil, true},
		{"rating < 5", nil, true},
		{"rating = 4.5", nil, true},
		{"big = 9007199254740993", nil, true},
		{"big > 9007199254740992.0", nil, true},
		{"big = 9007199254740992.0", nil, false},
		{"year < 1e999", nil, true},
		{"year > -1e999", nil, true},
		// mixed kinds are unknown, in both directions
		{"year = '1959'", nil, false},
		{"year != '1959'", nil, false},
		{"NOT year = '1959'", nil, false},
		{"meta.title = 12", nil, false},
		{"meta.title = '12'", nil, true},
		{"live = 0", nil, false},
		{"live != 0", nil, false},
		{"name != ?", []any{[]byte("Kind of Blue")}, false},
		{"cover != 'x'", nil, false},
		{"meta != 'x'", nil, false},
		{"label != ?", []any{[]byte{1}}, false},
		// NULL: missing property, NULL value, JSON null, a path to nowhere
		{"missing = 1", nil, false},
		{"missing != 1", nil, false},
		{"NOT missing = 1", nil, false},
		{"missing IS NULL", nil, true},
		{"nothing IS NULL", nil, true},
		{"meta.gone IS NULL", nil, true},
		{"meta.nowhere.deeper IS NULL", nil, true},
		{"name.inside IS NULL", nil, true},
		{"year IS NULL", nil, false},
		{"year IS NOT NULL", nil, true},
		{"missing IS NOT NULL", nil, false},
		{"NOT missing IS NULL", nil, false},
		{"year = NULL", nil, false},
		{"year != NULL", nil, false},
		{"NOT year = NULL", nil, false},
		{"year = ?", []any{nil}, false},
		// JSON paths
		{"meta.tracks = 5", nil, true},
		{"meta.tracks = '5'", nil, false},
		{"meta.producer.name = 'Teo Macero'", nil, true},
		{"meta.producer.born = 1925", nil, true},
		{`meta."my key" = true`, nil, true},
		{`meta.ids."1" = 8`, nil, true},
		{`meta.ids."2" IS NULL`, nil, true},
		{"meta.producer = 'Teo Macero'", nil, false},
		// three-valued logic
		{"missing = 1 OR year = 1959", nil, true},
		{"missing = 1 AND year = 1959", nil, false},
		{"NOT (missing = 1 AND year = 1959)", nil, false},
		{"NOT (missing = 1 AND year = 1958)", nil, true},
		{"NOT (missing = 1 OR year = 1958)", nil, false},
		{"NOT (missing = 1 OR year = 1959)", nil, false},
		{"NOT NOT year = 1959", nil, true},
		{"NOT NOT missing = 1", nil, false},
		{"true", nil, true},
		{"false", nil, false},
		{"NOT false", nil, true},
		{"false OR year = 1959", nil, true},
		{"true AND NOT missing = 1", nil, false},
		{"year = 1 OR year = 2 OR year = 1959", nil, true},
		{"year = 1959 AND name LIKE 'Kind%' OR false", nil, true},
		{"false AND missing = 1 OR true", nil, true}, // AND binds tighter
		{"false AND (missing = 1 OR true)", nil, false},
		// IN and NOT IN
		{"year IN (1958, 1959)", nil, true},
		{"year IN (1958.0, 1959.0)", nil, true},
		{"year IN (1, 2)", nil, false},
		{"year NOT IN (1, 2)", nil, true},
		{"year NOT IN (1959, 2)", nil, false},
		{"year IN (1959, NULL)", nil, true},
		{"year IN (2, NULL)", nil, false},
		{"year NOT IN (2, NULL)", nil, false},
		{"NOT year IN (2, NULL)", nil, false},
		{"year IN ('1959')", nil, false},
		{"year NOT IN ('1959')", nil, false},
		{"missing IN (1, 2)", nil, false},
		{"missing NOT IN (1, 2)", nil, false},
		{"year IN (?, ?)", []any{1, 1959}, true},
		{"name IN (?)", []any{"Kind of Blue"}, true},
		// LIKE
		{"name LIKE 'Kind of Blue'", nil, true},
		{"name LIKE 'Kind%'", nil, true},
		{"name LIKE '%Blue'", nil, true},
		{"name LIKE '%of%'", nil, true},
		{"name LIKE 'K_nd of Blu_'", nil, true},
		{"name LIKE 'kind%'", nil, false},
		{"name LIKE 'Kind'", nil, false},
		{"name LIKE '%'", nil, true},
		{"NOT name LIKE 'x%'", nil, true},
		{"year LIKE '19%'", nil, false},
		{"NOT year LIKE '19%'", nil, false},
		{"name LIKE 5", nil, false},
		{"NOT name LIKE 5", nil, false},
		{"missing LIKE '%'", nil, false},
		{"name LIKE NULL", nil, false},
		{"uni LIKE '_b'", nil, true},
		{"uni LIKE '__b'", nil, false},
		// a literal on the left
		{"1960 > year", nil, true},
		{"'Kind of Blue' = name", nil, true},
		{"? <= year", []any{1959}, true},
	}
	values := row{"big": value.Int(9007199254740993), "uni": value.String("éb")}
	for k, v := range album {
		values[k] = v
	}
	for _, tt := range tests {
		b, err := ParseBound(tt.query, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		for name, compile := range evaluators {
			prog, err := compile(b, nil)
			if err != nil {
				t.Fatalf("%s %s: compile: %v", name, tt.query, err)
			}
			got, err := prog.Match(value.FieldsOf(values))
			if err != nil || got != tt.want {
				t.Errorf("%s: %s = %v, %v; want %v", name, tt.query, got, err, tt.want)
			}
		}
	}
}

func TestCompile_SchemaRejectsImpossibleComparisons(t *testing.T) {
	schema := Schema{"year": value.KindInt, "rating": value.KindFloat, "name": value.KindString, "meta": value.KindJSON, "live": value.KindBool}
	tests := []struct {
		query string
		args  []any
		err   string // "" when the query must compile
	}{
		{"year > 5", nil, ""},
		{"year > 5.5", nil, ""},
		{"rating = 4", nil, ""},
		{"year = NULL", nil, ""},
		{"year IS NULL", nil, ""},
		{"name LIKE 'a%'", nil, ""},
		{"meta.tracks = 'x'", nil, ""},
		{"unknown = 'x'", nil, ""},
		{"year = ?", []any{nil}, ""},
		{"year = '1959'", nil, "query: type error: year is int, compared with string '1959'"},
		{"year = ?", []any{"1959"}, "query: type error: year is int, compared with string '1959'"},
		{"rating > true", nil, "query: type error: rating is float, compared with bool true"},
		{"name = 5", nil, "query: type error: name is string, compared with int 5"},
		{"year IN (1, 'x')", nil, "query: type error: year is int, compared with string 'x'"},
		{"NOT (live = false OR live = 1)", nil, "query: type error: live is bool, compared with int 1"},
		{"year LIKE '19%'", nil, "query: type error: year is int, but LIKE applies to string only"},
		{"name LIKE 5", nil, "query: type error: name is string, compared with int 5"},
		{"year.x = 1", nil, `query: type error: year.x reaches into property "year", which is int, not json: it is always NULL`},
	}
	for _, tt := range tests {
		b, err := ParseBound(tt.query, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		for name, compile := range evaluators {
			_, err := compile(b, schema)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("%s: %s: unexpected error %v", name, tt.query, err)
			case tt.err != "" && (err == nil || !errors.Is(err, ErrType) || err.Error() != tt.err):
				t.Errorf("%s: %s: error %v, want %s", name, tt.query, err, tt.err)
			}
		}
	}
}

func TestMatch_DeepestQueryCompiles(t *testing.T) {
	q := "year = 1959"
	for i := 0; i < MaxDepth/2; i++ {
		q = "NOT (" + q + " OR false)"
	}
	b, err := ParseBound(q)
	if err != nil {
		t.Fatal(err)
	}
	for name, compile := range evaluators {
		prog, err := compile(b, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := prog.Match(value.FieldsOf(album)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestMatch_NilPredicateMatchesAll(t *testing.T) {
	for name, compile := range evaluators {
		prog, err := compile(&Bound{Limit: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := prog.Match(value.Fields{}); !ok || err != nil {
			t.Errorf("%s: %v, %v", name, ok, err)
		}
	}
}

func TestCompile_RejectsUnboundPlaceholders(t *testing.T) {
	sel, err := Parse("a = 1 OR b IN (2, ?)")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bound{Where: sel.Where, Limit: -1}
	for name, compile := range evaluators {
		_, err := compile(b, nil)
		if !errors.Is(err, ErrBind) || err.Error() != "query: bind error: placeholder 1 of b is not bound" {
			t.Errorf("%s: %v", name, err)
		}
	}
}
