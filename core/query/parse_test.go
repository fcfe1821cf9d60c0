package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

func cmp(path string, op Op, v any) *Comparison {
	return &Comparison{Path: strings.Split(path, "."), Op: op, Value: Lit(value.MustFrom(v))}
}

func TestParse_BuildsTheAST(t *testing.T) {
	ph := func(i int) Operand { return Operand{Placeholder: i} }
	tests := []struct {
		query string
		want  *Selection
	}{
		{"year = 1959", &Selection{Where: cmp("year", Eq, 1959), Limit: -1}},
		{"a = 1 OR b = 2 AND c = 3", &Selection{Where: &Or{Terms: []Expr{cmp("a", Eq, 1), &And{Terms: []Expr{cmp("b", Eq, 2), cmp("c", Eq, 3)}}}}, Limit: -1}},
		{"(a = 1 OR b = 2) AND c = 3", &Selection{Where: &And{Terms: []Expr{&Or{Terms: []Expr{cmp("a", Eq, 1), cmp("b", Eq, 2)}}, cmp("c", Eq, 3)}}, Limit: -1}},
		{"a = 1 AND (b = 2 AND c = 3)", &Selection{Where: &And{Terms: []Expr{cmp("a", Eq, 1), cmp("b", Eq, 2), cmp("c", Eq, 3)}}, Limit: -1}},
		{"NOT a = 1 AND b = 2", &Selection{Where: &And{Terms: []Expr{&Not{X: cmp("a", Eq, 1)}, cmp("b", Eq, 2)}}, Limit: -1}},
		{"5 < year", &Selection{Where: cmp("year", Gt, 5), Limit: -1}},
		{"5 >= year", &Selection{Where: cmp("year", Le, 5), Limit: -1}},
		{"TRUE = live", &Selection{Where: cmp("live", Eq, true), Limit: -1}},
		{"? < a AND b IN (?, 1) AND c LIKE ?", &Selection{Where: &And{Terms: []Expr{
			&Comparison{Path: Path{"a"}, Op: Gt, Value: ph(0)},
			&In{Path: Path{"b"}, Values: []Operand{ph(1), Lit(value.Int(1))}},
			&Comparison{Path: Path{"c"}, Op: Like, Value: ph(2)},
		}}, Limit: -1, Placeholders: 3}},
		{`meta."my field".x NOT IN ('a''b', -2, 2.5, NULL)`, &Selection{Where: &In{Path: Path{"meta", "my field", "x"}, Not: true,
			Values: []Operand{Lit(value.String("a'b")), Lit(value.Int(-2)), Lit(value.Float(2.5)), Lit(value.Null)}}, Limit: -1}},
		{"x IS NOT NULL order BY a.b desc, c Asc, d limit 0", &Selection{Where: &IsNull{Path: Path{"x"}, Not: true},
			OrderBy: []Order{{Path: Path{"a", "b"}, Desc: true}, {Path: Path{"c"}}, {Path: Path{"d"}}}, Limit: 0}},
		{"false", &Selection{Where: &Literal{Value: false}, Limit: -1}},
		{`"order" = 1`, &Selection{Where: cmp("order", Eq, 1), Limit: -1}},
		{`"a""b" = 1`, &Selection{Where: cmp(`a"b`, Eq, 1), Limit: -1}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.query)
		if err != nil {
			t.Errorf("%s: %v", tt.query, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got  %s\n want %s", tt.query, got, tt.want)
		}
	}
}

func TestParse_PrintsCanonicalText(t *testing.T) {
	tests := []struct{ query, canonical string }{
		{"year=1959", "year = 1959"},
		{"  year<>1959", "year != 1959"},
		{"year >= -1959 and year <= 2000.50", "year >= -1959 AND year <= 2000.5"},
		{"a = 1e3 OR a = 1E-7 OR a = 1.5e300", "a = 1000.0 OR a = 1e-07 OR a = 1.5e+300"},
		{"a = 1e999 or a = -1e400", "a = 1e999 OR a = -1e999"},
		{"a = -0 or a = -0.0", "a = 0 OR a = 0.0"},
		{"a = 'it''s' OR b = ''", "a = 'it''s' OR b = ''"},
		{"a = 'x' AND (b = 1 OR NOT (c = 2 AND d = 3))", "a = 'x' AND (b = 1 OR NOT (c = 2 AND d = 3))"},
		{"(a = 1 AND b = 2) OR c = 3", "a = 1 AND b = 2 OR c = 3"},
		{"((a = 1))", "a = 1"},
		{"not not a is null", "NOT NOT a IS NULL"},
		{"a in (1,2)", "a IN (1, 2)"},
		{"a not in (1)", "a NOT IN (1)"},
		{"not a in (1)", "NOT a IN (1)"},
		{"x like 'a%_' ", "x LIKE 'a%_'"},
		{`"my field" = ?`, `"my field" = ?`},
		{`"year" = ? AND "_x" = 1 AND "1a" = 1 AND "Limit" = 1 AND "" = 1`, `year = ? AND "_x" = 1 AND "1a" = 1 AND "Limit" = 1 AND "" = 1`},
		{"año = 1 AND a_1 = 2", "año = 1 AND a_1 = 2"},
		{"meta . producer . name = 'x'", "meta.producer.name = 'x'"},
		{"true ORDER BY a ASC, b DESC LIMIT 10", "true ORDER BY a, b DESC LIMIT 10"},
		{"a = TRUE or b = False or c = null", "a = true OR b = false OR c = NULL"},
		{"null = a", "a = NULL"},
	}
	for _, tt := range tests {
		sel, err := Parse(tt.query)
		if err != nil {
			t.Errorf("%s: %v", tt.query, err)
			continue
		}
		if got := sel.String(); got != tt.canonical {
			t.Errorf("%s: printed %s, want %s", tt.query, got, tt.canonical)
		}
		again, err := Parse(sel.String())
		if err != nil || !reflect.DeepEqual(again, sel) {
			t.Errorf("%s: canonical text %s re-parses to %v, %v", tt.query, sel, again, err)
		}
	}
}

func TestParse_ErrorsNamePositionAndToken(t *testing.T) {
	tests := []struct{ query, err string }{
		{"year > 5 LIMT 3", `query: syntax error at 10: unexpected "LIMT", expected AND, OR, ORDER BY, LIMIT or end of query`},
		{"", `query: syntax error at 1: unexpected end of query, expected a path, a literal, NOT, true, false or "("`},
		{"year >", `query: syntax error at 7: unexpected end of query, expected a literal or ?`},
		{"year = 'abc", `query: syntax error at 8: unterminated string`},
		{`"year = 1`, `query: syntax error at 1: unterminated quoted identifier`},
		{"year IN ()", `query: syntax error at 10: unexpected ")": IN needs at least one value`},
		{"year IN (1,)", `query: syntax error at 12: unexpected ")", expected a literal or ?`},
		{"year IN 1", `query: syntax error at 9: unexpected "1", expected "("`},
		{"year IN (1 2)", `query: syntax error at 12: unexpected "2", expected "," or ")"`},
		{"a = b", `query: syntax error at 5: unexpected "b": comparing two paths is not supported, one side must be a literal or ?`},
		{"1 = 2", `query: syntax error at 5: unexpected "2": comparing two literals is not supported, one side must be a path`},
		{"NULL = NULL", `query: syntax error at 8: unexpected "NULL": comparing two literals is not supported, one side must be a path`},
		{"5 LIKE a", `query: syntax error at 3: unexpected "LIKE", expected a comparison operator (= != <> < <= > >=)`},
		{"5", `query: syntax error at 2: unexpected end of query, expected a comparison operator (= != <> < <= > >=)`},
		{"a", `query: syntax error at 2: unexpected end of query, expected a comparison operator, LIKE, IN, NOT IN or IS`},
		{"a IS 5", `query: syntax error at 6: unexpected "5", expected NULL`},
		{"a NOT LIKE 'x'", `query: syntax error at 7: unexpected "LIKE", expected IN`},
		{"(a = 1", `query: syntax error at 7: unexpected end of query, expected AND, OR or ")"`},
		{"a = 1)", `query: syntax error at 6: unexpected ")", expected AND, OR, ORDER BY, LIMIT or end of query`},
		{"a = 1 LIMIT -1", `query: syntax error at 13: unexpected "-1", expected a non-negative integer after LIMIT`},
		{"a = 1 LIMIT 1.5", `query: syntax error at 13: unexpected "1.5", expected a non-negative integer after LIMIT`},
		{"a = 1 LIMIT ?", `query: syntax error at 13: unexpected "?", expected a non-negative integer after LIMIT`},
		{"a = 1 LIMIT 99999999999999999999", `query: syntax error at 13: unexpected "99999999999999999999", expected a non-negative integer after LIMIT`},
		{"a = 1 LIMIT 1 ORDER BY a", `query: syntax error at 15: unexpected "ORDER", expected end of query`},
		{"a = 1 ORDER a", `query: syntax error at 13: unexpected "a", expected BY`},
		{"a = 1 ORDER BY", `query: syntax error at 15: unexpected end of query, expected a path to order by`},
		{"a = 1 ORDER BY a b", `query: syntax error at 18: unexpected "b", expected ASC, DESC, ",", LIMIT or end of query`},
		{"a = 99999999999999999999", `query: syntax error at 5: integer "99999999999999999999" out of range`},
		{"a = 1 AND", `query: syntax error at 10: unexpected end of query, expected a path, a literal, NOT, true, false or "("`},
		{"a = 1 AND OR b = 1", `query: syntax error at 11: unexpected "OR", expected a path, a literal, NOT, true, false or "("`},
		{"a.1 = 1", `query: syntax error at 3: unexpected "1", expected a name after "." (quote names that are not identifiers: "0")`},
		{"a. = 1", `query: syntax error at 4: unexpected "=", expected a name after "." (quote names that are not identifiers: "0")`},
		{"_a = 1", `query: syntax error at 1: unexpected character '_'`},
		{"a = 1 ; b", `query: syntax error at 7: unexpected character ';'`},
		{"a = - 1", `query: syntax error at 5: unexpected character '-' (a minus sign must start a number)`},
		{"a = \xff", `query: syntax error at 5: invalid UTF-8 byte 0xff`},
		{"a ! 1", `query: syntax error at 3: unexpected character '!'`},
		{"order = 1", `query: syntax error at 1: unexpected "order", expected a path, a literal, NOT, true, false or "("`},
		{"true AND", `query: syntax error at 9: unexpected end of query, expected a path, a literal, NOT, true, false or "("`},
		{"true = 1", `query: syntax error at 8: unexpected "1": comparing two literals is not supported, one side must be a path`},
		{strings.Repeat("(", MaxDepth+1) + "a = 1" + strings.Repeat(")", MaxDepth+1), `query: syntax error at 65: query nested deeper than 64 levels`},
		{strings.Repeat("NOT ", MaxDepth+1) + "a = 1", `query: syntax error at 257: query nested deeper than 64 levels`},
		{"a = '" + strings.Repeat("x", MaxQueryLength) + "'", `query: syntax error at 16385: query longer than 16384 bytes`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.query)
		if !errors.Is(err, ErrSyntax) || err.Error() != tt.err {
			t.Errorf("%.40q:\n got  %v\n want %s", tt.query, err, tt.err)
		}
	}
}

func TestBind_ReplacesPlaceholdersInOrder(t *testing.T) {
	sel, err := Parse("a = ? AND ? < b AND c IN (?, 1, ?) ORDER BY a LIMIT 5")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sel.Bind("x'y", 2.5, nil, int8(-3))
	if err != nil {
		t.Fatal(err)
	}
	const want = "a = 'x''y' AND b > 2.5 AND c IN (NULL, 1, -3) ORDER BY a LIMIT 5"
	if got := b.String(); got != want {
		t.Errorf("bound: %s, want %s", got, want)
	}
	if sel.String() != "a = ? AND b > ? AND c IN (?, 1, ?) ORDER BY a LIMIT 5" {
		t.Errorf("Bind changed the selection: %s", sel)
	}
	// The bound text re-parses to the bound AST.
	again, err := ParseBound(b.String())
	if err != nil || !reflect.DeepEqual(again, b) {
		t.Errorf("bound text re-parses to %v, %v; want %#v", again, err, b)
	}
}

func TestBind_RejectsWrongArguments(t *testing.T) {
	sel, _ := Parse("a = ? AND b = ?")
	tests := []struct {
		args []any
		err  string
	}{
		{[]any{1}, "query: bind error: the query has 2 placeholders but 1 arguments were given"},
		{[]any{1, 2, 3}, "query: bind error: the query has 2 placeholders but 3 arguments were given"},
		{[]any{1, uint64(1 << 63)}, "query: bind error: argument 2: value: unsupported: 9223372036854775808 overflows int64"},
		{[]any{1, make(chan int)}, "query: bind error: argument 2: value: unsupported: Go type chan int"},
	}
	for _, tt := range tests {
		_, err := sel.Bind(tt.args...)
		if !errors.Is(err, ErrBind) || err.Error() != tt.err {
			t.Errorf("Bind(%v): %v, want %s", tt.args, err, tt.err)
		}
	}
}

func TestBound_PrintsTypedLiterals(t *testing.T) {
	b, err := ParseBound("a = ? AND b = ? AND c = ?", []byte{0xca, 0xfe}, value.MustJSON(`{"b": 1, "a": "it's"}`), id.EntityID{})
	if err != nil {
		t.Fatal(err)
	}
	want := `a = x'cafe' AND b = json'{"a":"it''s","b":1}' AND c = ref'` + id.EntityID{}.String() + `'`
	if got := b.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestConjuncts_FlattensTopLevelAnds(t *testing.T) {
	a, b, c := cmp("a", Eq, 1), cmp("b", Eq, 2), cmp("c", Eq, 3)
	or := &Or{Terms: []Expr{a, b}}
	tests := []struct {
		e    Expr
		want []Expr
	}{
		{nil, nil},
		{a, []Expr{a}},
		{or, []Expr{or}},
		{&And{Terms: []Expr{a, &And{Terms: []Expr{b, c}}}}, []Expr{a, b, c}},
		{&And{Terms: []Expr{or, c}}, []Expr{or, c}},
		{&Not{X: &And{Terms: []Expr{a, b}}}, []Expr{&Not{X: &And{Terms: []Expr{a, b}}}}},
	}
	for _, tt := range tests {
		if got := Conjuncts(tt.e); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Conjuncts(%s) = %v, want %v", ExprString(tt.e), got, tt.want)
		}
	}
}

func TestLikePrefix(t *testing.T) {
	tests := []struct {
		pattern, prefix string
		exact           bool
	}{
		{"abc", "abc", true},
		{"", "", true},
		{"abc%", "abc", false},
		{"ab_d", "ab", false},
		{"%abc", "", false},
		{"a%b_", "a", false},
	}
	for _, tt := range tests {
		prefix, exact := LikePrefix(tt.pattern)
		if prefix != tt.prefix || exact != tt.exact {
			t.Errorf("LikePrefix(%q) = %q, %v; want %q, %v", tt.pattern, prefix, exact, tt.prefix, tt.exact)
		}
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		s, pattern string
		want       bool
	}{
		{"", "", true},
		{"", "%", true},
		{"", "_", false},
		{"a", "", false},
		{"abc", "a%c", true},
		{"abc", "a%%c", true},
		{"ac", "a%c", true},
		{"abcbc", "a%bc", true},
		{"abcbd", "a%bc", false},
		{"aXbXc", "a_b_c", true},
		{"Abc", "abc", false},
		{"日本語", "___", true},
		{"日本語", "日%", true},
		{"日本語", "_本_", true},
		{"\xff\xfe", "__", true},
		{"\xff\xfe", "\xff_", true},
		{"é", "\xc3_", false}, // a pattern byte never matches half a character
		{"mississippi", "%iss%ppi", true},
		{"mississippi", "%iss%ppj", false},
		{"100%", "100%", true},
	}
	for _, tt := range tests {
		if got := likeMatch(tt.s, tt.pattern); got != tt.want {
			t.Errorf("%q LIKE %q = %v, want %v", tt.s, tt.pattern, got, tt.want)
		}
	}
}

// Bytes, json and entity-ref values print as typed literals that parse
// back to the same values, so a selection bound on a client means the same
// on the server it is sent to as text.
func TestParse_TypedLiteralsReadBackWhatBoundPrints(t *testing.T) {
	e := id.EntityID{1, 2, 3}
	b, err := ParseBound("a = ? AND b = ? AND c IN (?, ?) ORDER BY a LIMIT 3", []byte{0, 0xff}, value.MustJSON(`{"b": [1, "it's"], "a": null}`), value.Ref(e), value.Ref(id.EntityID{}))
	if err != nil {
		t.Fatal(err)
	}
	text := b.String()
	again, err := ParseBound(text)
	if err != nil {
		t.Fatalf("Parse(%s): %v", text, err)
	}
	if again.String() != text || !reflect.DeepEqual(again.Where, b.Where) {
		t.Fatalf("Parse(%s) = %s (%#v), want the same selection", text, again, again.Where)
	}
	// Any case of the prefix; a literal on the left.
	s, err := Parse(`X'CAFE' = a AND JSON'[1]' = b AND Ref'` + e.String() + `' = c`)
	if err != nil {
		t.Fatal(err)
	}
	want := `a = x'cafe' AND b = json'[1]' AND c = ref'` + e.String() + `'`
	if got := s.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// A prefix apart from its quote is a path, as before.
	if _, err := Parse(`x 'cafe'`); !errors.Is(err, ErrSyntax) {
		t.Errorf("x 'cafe': %v, want a syntax error", err)
	}
	for _, bad := range []struct{ q, msg string }{
		{`a = x'abc'`, `invalid bytes literal "x'abc'": want an even number of hex digits`},
		{`a = x'zz'`, `invalid bytes literal "x'zz'": 'z' is not a hex digit`},
		{`a = json'{'`, `invalid json literal "json'{'"`},
		{`a = ref'nope'`, `invalid ref literal "ref'nope'"`},
		{`a = ref'01`, `unterminated string`},
		{`x'00' = json'1'`, `comparing two literals is not supported`},
	} {
		_, err := Parse(bad.q)
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("Parse(%s): %v, want a syntax error containing %q", bad.q, err, bad.msg)
		}
	}
}
