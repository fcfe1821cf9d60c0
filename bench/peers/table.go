package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// row is one line of the side-by-side table: a metric at one size, and which
// figure of its results it shows.
type row struct {
	metric string
	n      int
	field  string
}

func (r row) label() string {
	switch r.metric {
	case "BQ1":
		return fmt.Sprintf("BQ1 write→notify, %s subscriber%s, %s", commas(r.n), plural(r.n), strings.TrimSuffix(r.field, "_ms"))
	case "BS1":
		return fmt.Sprintf("BS1 initial sync, %s docs", commas(r.n))
	case "bulk":
		return fmt.Sprintf("bulk preload, %s docs", commas(r.n))
	}
	return r.metric
}

// printTable writes a Markdown table: one column per peer, each cell the
// median of the runs' figures with their range when there are several.
func printTable(w io.Writer, rs []result) {
	var peers []string
	seenPeer := map[string]bool{}
	var rows []row
	seenRow := map[row]bool{}
	cells := map[row]map[string][]result{}
	for _, r := range rs {
		p, _ := r["peer"].(string)
		m, _ := r["metric"].(string)
		n := int(num(r["n"]))
		if !seenPeer[p] {
			seenPeer[p] = true
			peers = append(peers, p)
		}
		fields := []string{"total_ms"}
		if m == "BQ1" {
			fields = []string{"p50_ms", "p99_ms"}
		}
		for _, f := range fields {
			k := row{m, n, f}
			if !seenRow[k] {
				seenRow[k] = true
				rows = append(rows, k)
				cells[k] = map[string][]result{}
			}
			cells[k][p] = append(cells[k][p], r)
		}
	}
	order := map[string]int{"BQ1": 0, "BS1": 1, "bulk": 2}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.metric != b.metric {
			return order[a.metric] < order[b.metric]
		}
		if a.n != b.n {
			return a.n < b.n
		}
		return a.field < b.field
	})
	fmt.Fprintf(w, "| | %s |\n|---|%s\n", strings.Join(peers, " | "), strings.Repeat("---|", len(peers)))
	for _, k := range rows {
		var cs []string
		for _, p := range peers {
			cs = append(cs, cell(cells[k][p], k.field))
		}
		fmt.Fprintf(w, "| %s | %s |\n", k.label(), strings.Join(cs, " | "))
	}
}

// cell is the median of the runs' figure, with the runs' range, or what
// went wrong when no run has the figure.
func cell(rs []result, field string) string {
	var xs []float64
	why := ""
	for _, r := range rs {
		if v, ok := r[field].(float64); ok && r["error"] == nil {
			xs = append(xs, v)
			continue
		}
		switch {
		case r["skipped"] != nil:
			why = "skipped"
		case r["incomplete"] != nil:
			why = "incomplete"
		case r["error"] != nil:
			why = "failed"
		case num(r["missing"]) > 0:
			why = "incomplete"
		}
	}
	if len(xs) == 0 {
		if why == "" {
			return "—"
		}
		return why
	}
	sort.Float64s(xs)
	med := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	s := ms(med)
	if len(xs) > 1 {
		s += " (" + ms(xs[0]) + "–" + ms(xs[len(xs)-1]) + ")"
	}
	missing, samples := 0.0, 0.0
	for _, r := range rs {
		missing += num(r["missing"])
		samples += num(r["samples"])
	}
	if missing > 0 {
		s += fmt.Sprintf(" [%.2g%% of notifications missing]", 100*missing/(missing+samples))
	}
	if len(xs) < len(rs) {
		s += fmt.Sprintf(" [%d of %d runs]", len(xs), len(rs))
	}
	return s
}

func ms(x float64) string {
	switch {
	case x >= 10000:
		return fmt.Sprintf("%.1f s", x/1000)
	case x >= 100:
		return fmt.Sprintf("%.0f ms", x)
	case x >= 10:
		return fmt.Sprintf("%.1f ms", x)
	default:
		return fmt.Sprintf("%.2f ms", x)
	}
}

func num(v any) float64 {
	f, _ := v.(float64)
	if i, ok := v.(int); ok {
		f = float64(i)
	}
	return f
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
