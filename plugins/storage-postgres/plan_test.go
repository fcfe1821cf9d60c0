package postgres

import (
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/query"
)

// TestPlan_PushesDownWhatItCan checks which selections go to SQL whole
// (predicate, order and limit) and which leave work to the residual filter.
func TestPlan_PushesDownWhatItCan(t *testing.T) {
	tbl := &table{collection: "c", name: `"s"."c"`, cols: map[string]bool{}}
	for _, p := range []string{"v", "meta"} {
		for k := colKind(0); k < numKinds; k++ {
			tbl.cols[column(p, k)] = true
		}
	}
	tests := []struct {
		q          string
		whereExact bool
		exact      bool
		limitInSQL bool
	}{
		{"v = 1", true, true, false},
		{"v = 'x' ORDER BY v DESC LIMIT 3", true, true, true},
		{"v LIKE 'a_%' AND v IN (1, 'b') OR NOT v IS NULL LIMIT 2", true, true, true},
		{"meta.a.b = 'x' LIMIT 1", true, true, true},
		{"meta.n > 2.5", true, true, false},
		{"true ORDER BY meta.a LIMIT 1", true, false, false},
		{"meta.a = ? LIMIT 1", false, false, false},
		{"v = ? LIMIT 1", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			var args []any
			if strings.Contains(tc.q, "meta.a = ?") {
				args = []any{map[string]any{"k": 1}}
			} else if strings.Contains(tc.q, "?") {
				args = []any{"nul\x00inside"}
			}
			sel, err := query.ParseBound(tc.q, args...)
			if err != nil {
				t.Fatal(err)
			}
			p := plan(tbl, sel)
			if p.whereExact != tc.whereExact || p.exact != tc.exact || strings.Contains(p.sql, "LIMIT") != tc.limitInSQL {
				t.Errorf("whereExact %v exact %v limit %v, want %v %v %v\n%s", p.whereExact, p.exact,
					strings.Contains(p.sql, "LIMIT"), tc.whereExact, tc.exact, tc.limitInSQL, p.sql)
			}
			if p.missing {
				t.Errorf("plan reports a missing column: %s", p.sql)
			}
			if (p.limitArg >= 0) != tc.limitInSQL || (p.limitArg >= 0 && p.args[p.limitArg] != sel.Limit) {
				t.Errorf("limitArg %d (args %v), want the LIMIT's argument when SQL has one", p.limitArg, p.args)
			}
		})
	}
}
