package query

import (
	"math"
	"reflect"
	"testing"
)

// bindValues are the arguments FuzzParse binds placeholders to, in turn:
// every kind that has a literal form.
var bindValues = []any{nil, true, int64(-7), 2.5, math.Inf(1), "it's", int64(math.MinInt64), 1e-7}

func FuzzParse(f *testing.F) {
	for _, q := range []string{
		"year > ? AND artist = ? AND name LIKE ?",
		"a = 1 OR b = 2 AND NOT (c = 3 OR d IN (1, 'x', NULL, 2.5))",
		`meta."my field".x NOT IN ('a''b', -2, 1e999) ORDER BY a DESC, b LIMIT 0`,
		"5 < year AND x IS NOT NULL AND NOT y IS NULL",
		"true OR false",
		`"" = '' AND "order" <> TRUE`,
		"año LIKE '_%' ORDER BY año ASC LIMIT 10",
		"((a = 1))",
		"? = a",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sel, err := Parse(q)
		if err != nil {
			return
		}
		text := sel.String()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", q, text, err)
		}
		if !reflect.DeepEqual(again, sel) {
			t.Fatalf("%q printed as %q, which parses to another selection: %s", q, text, again)
		}
		args := make([]any, sel.Placeholders)
		for i := range args {
			args[i] = bindValues[i%len(bindValues)]
		}
		b, err := sel.Bind(args...)
		if err != nil {
			t.Fatalf("%q: Bind: %v", q, err)
		}
		rb, err := ParseBound(b.String())
		if err != nil || !reflect.DeepEqual(rb, b) {
			t.Fatalf("%q bound prints as %q, which parses to %v, %v", q, b, rb, err)
		}
	})
}
