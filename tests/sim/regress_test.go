package sim

import (
	"context"
	"testing"
)

// Seeds that found bugs, replayed. Each names the bug it found;
// docs/reliability.md has the details. A replay follows the same schedule;
// the nodes' own goroutines may still interleave differently, so a seed is a
// likely, not a certain, trigger.
var regressions = []struct {
	seed  uint64
	steps int
	bug   string
}{
	{10, 40, "a refused offline creation stayed in the client's cache (drained commit still pending during the refresh; refresh cut short by a disconnect never retried)"},
	{34, 60, "a refused offline creation stayed in the client's cache when the client restarted before its refresh could finish"},
	{42, 40, "a re-sent creation re-applied on a state from the server put its genesis back into the head"},
	{58, 60, "a client's LIMITed live query kept a row deleted while the client was away (re-subscribing did not refresh unconfirmed rows under a LIMIT)"},
	{163, 60, "as 58"},
	{286, 40, "a commit racing Node.Close was acknowledged and stored after Close, unseen by the node opened next on the storage"},
	{72, 60, "a client re-sending an edit the server already had (its answer lost with the link) was answered with a state descending from it and applied the edit again on top: its head listed the edit beside its descendant"},
	{180, 60, "as 72"},
	{277, 60, "as 72"},
	{295, 60, "as 72"},
	{1824, 60, "offline commits building on one the server refused (on a new system) failed as a missing ancestor, were kept as if the failure would pass, and made every state of their entity fail to store"},
	{1589, 60, "a refresh's eviction, answered before a subscription's update of the entity arrived, dropped the newer state; the state at the stub's head was then taken as already stored, so a live query missed the Add"},
	{3511, 60, "a live query re-pointed to a wider selection took cached rows changed on the server while not followed (re-pointing told the server of no cached row)"},
	{6021, 60, "as 3511"},
	{10963, 60, "a client's LIMITed live query refilled its window from the cache with a row no subscription followed, changed on the server since, and kept it"},
	{16123, 60, "as 10963"},
	{18962, 60, "as 10963"},
	{589, 60, "a client meeting a new system dropped its cache with the outbox records of commits not yet sent; restarted before sending them, it lost them"},
	{6594, 60, "as 589"},
}

func TestSim_Regressions(t *testing.T) {
	for _, r := range regressions {
		rep, err := Run(context.Background(), Config{Seed: r.seed, Steps: r.steps, Dir: t.TempDir()})
		if err != nil {
			t.Errorf("seed %d (%s): %v\nreplay: go test ./tests/sim -run 'TestSim$' -sim.seed=%d -sim.steps=%d", r.seed, r.bug, err, r.seed, r.steps)
			continue
		}
		if rep.Checks == 0 {
			t.Errorf("seed %d checked nothing", r.seed)
		}
	}
}
