package sim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var (
	seedFlag  = flag.Uint64("sim.seed", 0, "run only this seed (replay)")
	seedsFlag = flag.Int("sim.seeds", 300, "how many seeds TestSim runs")
	firstFlag = flag.Uint64("sim.first", 1, "the first seed TestSim runs")
	stepsFlag = flag.Int("sim.steps", 0, "steps per seed (0: the default)")
	verbose   = flag.Bool("sim.v", false, "node logs and the whole trace of every seed")
)

// runSeed runs one seed and fails t with the violations, the end of the
// trace and the replay command.
func runSeed(t *testing.T, seed uint64) *Report {
	t.Helper()
	rep, err := Run(context.Background(), Config{Seed: seed, Steps: *stepsFlag, Dir: t.TempDir(), Verbose: *verbose})
	if *verbose && rep != nil {
		t.Log(strings.Join(rep.Trace, "\n"))
	}
	if err != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "seed %d: %v\n", seed, err)
		if rep != nil {
			tr := rep.Trace
			if len(tr) > 60 {
				tr = tr[len(tr)-60:]
			}
			fmt.Fprintf(&b, "topology: %s; last steps:\n%s\n", rep.Topology, strings.Join(tr, "\n"))
		}
		fmt.Fprintf(&b, "replay: go test ./tests/sim -run 'TestSim$' -sim.seed=%d", seed)
		t.Error(b.String())
	}
	return rep
}

// TestSim runs -sim.seeds seeds from -sim.first (300 from 1 by default; the
// campaign is `make sim SEEDS=10000`), or only -sim.seed.
func TestSim(t *testing.T) {
	seeds := []uint64{}
	if *seedFlag != 0 {
		seeds = append(seeds, *seedFlag)
	} else {
		for i := 0; i < *seedsFlag; i++ {
			seeds = append(seeds, *firstFlag+uint64(i))
		}
	}
	start := time.Now()
	var total Report
	total.Faults = map[string]int{}
	failed, unsettled := 0, 0
	var violating []uint64
	for i, s := range seeds {
		rep := runSeed(t, s)
		if t.Failed() && failed == 0 {
			failed++
		}
		if rep == nil {
			continue
		}
		total.Commits += rep.Commits
		total.Acked += rep.Acked
		total.Checks += rep.Checks
		unsettled += rep.Unsettled
		if len(rep.Violations) > 0 {
			violating = append(violating, s)
		}
		for k, v := range rep.Faults {
			total.Faults[k] += v
		}
		if n := len(seeds); n >= 1000 && (i+1)%1000 == 0 && i+1 < n {
			t.Logf("after %d seeds (%s): %d commits (%d acknowledged), %d checks, %d seeds violated", i+1, time.Since(start).Round(time.Second), total.Commits, total.Acked, total.Checks, len(violating))
		}
		if len(rep.Violations) > 0 && os.Getenv("SIM_KEEP_GOING") == "" {
			break
		}
	}
	t.Logf("%d seeds in %s: %d commits (%d acknowledged), %d invariant checks, faults %v, %d unsettled steps",
		len(seeds), time.Since(start).Round(time.Millisecond), total.Commits, total.Acked, total.Checks, total.Faults, unsettled)
	if len(violating) > 0 {
		t.Logf("%d seeds violated an invariant: %v", len(violating), violating)
	}
}

var _ = errors.Is
