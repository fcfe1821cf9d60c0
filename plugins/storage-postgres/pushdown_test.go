package postgres_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

// mixedValues are values of every kind, chosen where SQL and Go could
// disagree: ints and floats around 2^53 and 2^63, floats without an exact
// decimal, strings in byte order that collations reorder, strings SQL text
// cannot hold, JSON with such numbers and with NUL.
var mixedValues = []value.Value{
	value.Null,
	value.Bool(false), value.Bool(true),
	value.Int(0), value.Int(1), value.Int(-1), value.Int(3),
	value.Int(1 << 53), value.Int(1<<53 + 1), value.Int(math.MaxInt64), value.Int(math.MinInt64),
	value.Int(9223372036854774790),
	value.Float(0.1), value.Float(1.0), value.Float(2.5), value.Float(-0.5),
	value.Float(math.Ldexp(1, 53)), value.Float(9223372036854774784), value.Float(math.Ldexp(1, 63)),
	value.Float(math.Inf(1)), value.Float(math.Inf(-1)), value.Float(5e-324),
	value.String(""), value.String("a"), value.String("B"), value.String("b"), value.String("ab"),
	value.String("é"), value.String("e\u0301"), value.String("Z"), value.String("a_b"), value.String("a%b"), value.String(`a\b`),
	value.String("a\x00b"), // (strings that are not UTF-8 do not survive the core's CBOR)
	value.Bytes(nil), value.Bytes([]byte{0}), value.Bytes([]byte{1, 2}),
	value.MustJSON(`{"n":0.1,"s":"x","b":true,"o":{"k":1},"a":[1,"two",3.5]}`),
	value.MustJSON(`{"n":3,"s":"a\u0000b"}`),
	value.MustJSON(`{"n":0.10000000000000001,"s":"y"}`),
	value.MustJSON(`{"n":9223372036854775807,"s":"Z"}`),
	value.MustJSON(`{"n":1e400}`),
	value.MustJSON(`{"n":null,"s":null}`),
	value.MustJSON(`[1,2]`), value.MustJSON(`"str"`), value.MustJSON(`5`),
	value.Ref(id.EntityID{1}), value.Ref(id.EntityID{2}),
}

// TestPushdown_MatchesGo runs queries over entities holding every kind in
// the same properties and checks the engine's answer (SQL pushdown plus
// residual) against the Go evaluator over all states.
func TestPushdown_MatchesGo(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	c := mustCollection(t, e, "mixed")
	var all []entity.State
	for i, v := range mixedValues {
		w := mixedValues[(i*7+3)%len(mixedValues)]
		b := create(genesis(c.Name(), fmt.Sprint(i)), map[string]value.Value{"v": v, "w": w, "k": value.Int(int64(i % 3))})
		mustApply(t, e, b)
		all = append(all, b.States[0].State)
	}
	queries := []struct {
		q    string
		args []any
	}{
		{"true", nil},
		{"v = 1", nil}, {"v = 1.0", nil}, {"v != 1", nil}, {"v < 3", nil}, {"v >= 0.1", nil},
		{"v > ?", []any{int64(9223372036854774790)}}, {"v < ?", []any{9223372036854774784.0}},
		{"v = ?", []any{math.Ldexp(1, 53)}}, {"v > ?", []any{math.Inf(-1)}}, {"v < ?", []any{math.Inf(1)}},
		{"v = 'a'", nil}, {"v < 'b'", nil}, {"v > 'B'", nil}, {"v >= ''", nil}, {"v = ?", []any{"a\x00b"}},
		{"v < ?", []any{"\xff"}}, {"v LIKE 'a%'", nil}, {"v LIKE '_'", nil}, {"v LIKE 'a_b'", nil}, {`v LIKE 'a\%'`, nil}, {`v LIKE '%\b'`, nil}, {"v LIKE '%'", nil},
		{"v = true", nil}, {"v > false", nil}, {"v = ?", []any{[]byte{1, 2}}}, {"v > ?", []any{[]byte{}}},
		{"v = ?", []any{id.EntityID{2}}}, {"v = ?", []any{value.MustJSON(`[1,2]`)}}, {"v > ?", []any{value.MustJSON(`[1,2]`)}},
		{"v IS NULL", nil}, {"v IS NOT NULL", nil}, {"NOT v = 1", nil}, {"NOT v IS NULL", nil},
		{"v IN (1, 'a', true)", nil}, {"v NOT IN (1, 'a')", nil}, {"v NOT IN (1, NULL)", nil}, {"v = NULL", nil},
		{"v.n = 0.1", nil}, {"v.n > 3", nil}, {"v.n < 1", nil}, {"v.n = ?", []any{int64(math.MaxInt64)}},
		{"v.n IS NULL", nil}, {"v.n IS NOT NULL", nil}, {"v.s = 'x'", nil}, {"v.s < 'y'", nil}, {"v.s LIKE '%'", nil},
		{"v.b = true", nil}, {"v.o.k = 1", nil}, {"v.a.\"1\" = 'two'", nil}, {"v.a.\"2\" > 3", nil}, {"v.a.\"01\" = 'two'", nil},
		{"v.o = ?", []any{value.MustJSON(`{"k":1}`)}}, {"v.nope = 1", nil}, {"nope = 1", nil}, {"nope IS NULL", nil},
		{"v = 1 OR w = 'a'", nil}, {"(v > 0 OR w < 0) AND NOT k = 1", nil}, {"v.s = 'x' OR v > 2", nil},
		{"true ORDER BY v", nil}, {"true ORDER BY v DESC", nil}, {"true ORDER BY w, v DESC", nil},
		{"k = 1 ORDER BY v LIMIT 3", nil}, {"true ORDER BY v DESC LIMIT 5", nil}, {"true ORDER BY v.n LIMIT 4", nil},
		{"true ORDER BY nope DESC, v LIMIT 4", nil}, {"v IS NOT NULL ORDER BY k DESC, v LIMIT 7", nil},
		{"v LIKE 'a%' ORDER BY v LIMIT 2", nil}, {"true LIMIT 0", nil}, {"v.a.\"1\" LIKE 't%' ORDER BY v.s DESC LIMIT 1", nil},
	}
	for _, tc := range queries {
		t.Run(tc.q, func(t *testing.T) {
			sel, err := query.ParseBound(tc.q, tc.args...)
			if err != nil {
				t.Fatalf("ParseBound: %v", err)
			}
			got, err := c.FetchStates(ctx, sel)
			if err != nil {
				t.Fatalf("FetchStates: %v", err)
			}
			prog, err := query.Compile(sel, nil)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			want, err := storage.Residual(slices.Clone(all), prog, sel.OrderBy, sel.Limit)
			if err != nil {
				t.Fatalf("Residual: %v", err)
			}
			if g, w := describe(got), describe(want); !slices.Equal(g, w) {
				t.Errorf("got  %v\nwant %v", g, w)
			}
		})
	}
}

func describe(states []entity.State) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = s.Values.Get("v").GoString() + "/" + s.Values.Get("w").GoString()
	}
	return out
}

func TestPushdown_HugeInListFallsBackToResidual(t *testing.T) {
	e := openEngine(t)
	c := mustCollection(t, e, "huge")
	b := create(genesis("huge", "x"), map[string]value.Value{"n": value.Int(69999)})
	mustApply(t, e, b)
	// Longer than AnkQL text allows: build the bound selection directly.
	in := &query.In{Path: query.Path{"n"}}
	for i := range 70000 {
		in.Values = append(in.Values, query.Lit(value.Int(int64(i))))
	}
	got, err := c.FetchStates(context.Background(), &query.Bound{Where: in, Limit: -1})
	if err != nil {
		t.Fatalf("FetchStates: %v", err)
	}
	if len(got) != 1 || got[0].ID != b.States[0].State.ID {
		t.Errorf("IN over 70,000 values gave %d states", len(got))
	}
}
