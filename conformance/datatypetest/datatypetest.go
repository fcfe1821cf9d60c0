// Package datatypetest is the conformance suite for property backends
// (datatypes): whatever events a set of replicas exchange, in whatever order
// and however often, replicas that applied the same events hold the same
// state; states survive serialization; empty and large values work.
//
// A datatype wires it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		datatypetest.Run(t, func(seed uint64) datatypetest.Harness { return myHarness{seed} })
//	}
//
// Every run is seeded. The seed is logged when a test fails; set
// DATATYPETEST_SEED to replay it.
package datatypetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
)

// Harness makes and edits backends of one datatype.
type Harness interface {
	// Load makes a backend from a serialized state (nil: a new, empty one),
	// as the datatype's registered factory does.
	Load(state []byte) (property.Backend, error)
	// Edit makes one random local edit of b (a fork, as a transaction does).
	// size is a hint of how much to write: 1 for a small edit, larger for
	// the large-value test.
	Edit(rng *rand.Rand, b property.Backend, size int) error
}

// HarnessMaker returns a harness for one test run. seed lets the harness
// make anything random it draws (client ids, say) reproducible.
type HarnessMaker func(seed uint64) Harness

// Run runs every test of the suite.
func Run(t *testing.T, mk HarnessMaker) {
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness, rng *rand.Rand)
	}{
		{"ThreeReplicasConvergeInAnyOrder", testConvergence},
		{"RedeliveryIsIdempotent", testIdempotent},
		{"StateRoundTrips", testRoundTrip},
		{"EmptyBackend", testEmpty},
		{"LargeValues", testLarge},
		{"GarbageIsRejected", testGarbage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := seedFor(t)
			rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			tt.run(t, mk(seed), rng)
		})
	}
}

func seedFor(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DATATYPETEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("DATATYPETEST_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with DATATYPETEST_SEED=%d", seed)
		}
	})
	return seed
}

// event is one committed transaction's payload for the backend.
type event struct {
	id  id.EventID
	ops []byte
}

// commit forks b, makes 1..max edits on the fork and returns its payload
// (nil ops when the edits made none).
func commit(t *testing.T, h Harness, rng *rand.Rand, b property.Backend, max int) event {
	t.Helper()
	fork := b.Fork()
	for range 1 + rng.IntN(max) {
		if err := h.Edit(rng, fork, 1); err != nil {
			t.Fatalf("edit: %v", err)
		}
	}
	ops, err := fork.TakeOperations()
	if err != nil {
		t.Fatalf("take operations: %v", err)
	}
	var ev event
	for i := range ev.id {
		ev.id[i] = byte(rng.Uint32())
	}
	ev.ops = ops
	return ev
}

func apply(t *testing.T, b property.Backend, ev event) {
	t.Helper()
	if ev.ops == nil {
		return
	}
	if err := b.Apply(ev.id, ev.ops); err != nil {
		t.Fatalf("apply event %s: %v", ev.id, err)
	}
}

func state(t *testing.T, b property.Backend) []byte {
	t.Helper()
	s, err := b.State()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	return s
}

// same fails unless a and b serialize to the same bytes and materialize the
// same values.
func same(t *testing.T, what string, a, b property.Backend) {
	t.Helper()
	if !a.Values().Equal(b.Values()) {
		t.Fatalf("%s: values differ:\n%v\n%v", what, a.Values(), b.Values())
	}
	if !bytes.Equal(state(t, a), state(t, b)) {
		t.Fatalf("%s: equal values but states serialize differently", what)
	}
}

func testConvergence(t *testing.T, h Harness, rng *rand.Rand) {
	const replicas = 3
	var nodes [replicas]property.Backend
	var inbox [replicas][]event
	for i := range nodes {
		b, err := h.Load(nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = b
	}
	deliverOne := func(i int) {
		if len(inbox[i]) == 0 {
			return
		}
		k := rng.IntN(len(inbox[i]))
		ev := inbox[i][k]
		inbox[i] = append(inbox[i][:k], inbox[i][k+1:]...)
		apply(t, nodes[i], ev)
	}
	for range 60 {
		i := rng.IntN(replicas)
		if rng.IntN(3) == 0 {
			deliverOne(i)
			continue
		}
		ev := commit(t, h, rng, nodes[i], 4)
		apply(t, nodes[i], ev)
		for j := range nodes {
			if j != i {
				inbox[j] = append(inbox[j], ev)
			}
		}
	}
	for i := range nodes {
		for len(inbox[i]) > 0 {
			deliverOne(i)
		}
	}
	for i := 1; i < replicas; i++ {
		same(t, fmt.Sprintf("replica 0 and %d", i), nodes[0], nodes[i])
	}
}

func testIdempotent(t *testing.T, h Harness, rng *rand.Rand) {
	src, _ := h.Load(nil)
	var evs []event
	for range 20 {
		ev := commit(t, h, rng, src, 3)
		apply(t, src, ev)
		evs = append(evs, ev)
	}
	once, _ := h.Load(nil)
	twice, _ := h.Load(nil)
	for _, ev := range evs {
		apply(t, once, ev)
	}
	for _, k := range rng.Perm(len(evs)) {
		apply(t, twice, evs[k])
	}
	for _, k := range rng.Perm(len(evs)) {
		apply(t, twice, evs[k])
		apply(t, twice, evs[k])
	}
	same(t, "applied once and re-delivered", once, twice)
	same(t, "source and replica", src, once)
}

func testRoundTrip(t *testing.T, h Harness, rng *rand.Rand) {
	a, _ := h.Load(nil)
	for range 15 {
		apply(t, a, commit(t, h, rng, a, 3))
	}
	b, err := h.Load(state(t, a))
	if err != nil {
		t.Fatalf("load own state: %v", err)
	}
	same(t, "loaded from state", a, b)
	// Both go on alike: a loaded backend is a full replica.
	for range 10 {
		ev := commit(t, h, rng, a, 3)
		apply(t, a, ev)
		apply(t, b, ev)
	}
	same(t, "after more events", a, b)
}

func testEmpty(t *testing.T, h Harness, _ *rand.Rand) {
	a, err := h.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Values().Len() != 0 {
		t.Fatalf("empty backend has values %v", a.Values())
	}
	ops, err := a.Fork().TakeOperations()
	if err != nil || ops != nil {
		t.Fatalf("a fork without edits has operations %x (%v)", ops, err)
	}
	b, err := h.Load(state(t, a))
	if err != nil {
		t.Fatalf("load an empty state: %v", err)
	}
	same(t, "empty state loaded", a, b)
	c, err := h.Load([]byte{})
	if err != nil {
		t.Fatalf("load zero bytes: %v", err)
	}
	same(t, "zero bytes loaded", a, c)
}

func testLarge(t *testing.T, h Harness, rng *rand.Rand) {
	a, _ := h.Load(nil)
	fork := a.Fork()
	for range 5 {
		if err := h.Edit(rng, fork, 50_000); err != nil {
			t.Fatal(err)
		}
	}
	ops, err := fork.TakeOperations()
	if err != nil {
		t.Fatal(err)
	}
	apply(t, a, event{id: id.EventID{1}, ops: ops})
	b, _ := h.Load(nil)
	apply(t, b, event{id: id.EventID{1}, ops: ops})
	same(t, "large edit applied", a, b)
	c, err := h.Load(state(t, a))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "large state loaded", a, c)
}

func testGarbage(t *testing.T, h Harness, rng *rand.Rand) {
	a, _ := h.Load(nil)
	apply(t, a, commit(t, h, rng, a, 3))
	before := state(t, a)
	for _, bad := range [][]byte{{0xff}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, bytes.Repeat([]byte{0x80}, 20)} {
		err := a.Apply(id.EventID{9}, bad)
		if !errors.Is(err, property.ErrInvalid) {
			t.Fatalf("payload %x: got %v, want property.ErrInvalid", bad, err)
		}
	}
	if !bytes.Equal(before, state(t, a)) {
		t.Fatal("a rejected payload changed the state")
	}
}
