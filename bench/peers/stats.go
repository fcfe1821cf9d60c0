package main

import (
	"math"
	"sort"

	"golang.org/x/sys/unix"
)

// clockMs is CLOCK_MONOTONIC in milliseconds: one clock for every process on
// the machine (Node's process.hrtime reads the same one), so a time written
// into a doc by the writer can be subtracted from an arrival time taken in
// another process.
func clockMs() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return float64(ts.Sec)*1e3 + float64(ts.Nsec)/1e6
}

// summary is nearest-rank percentiles of a sample.
type summary struct {
	P50, P99, Max float64
	N             int
}

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{P50: math.NaN(), P99: math.NaN(), Max: math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[min(len(s)-1, max(0, i))]
	}
	return summary{P50: rank(50), P99: rank(99), Max: s[len(s)-1], N: len(s)}
}

// round2 keeps two decimals (JSON output).
func round2(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return math.Round(x*100) / 100
}
