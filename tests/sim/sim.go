package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/core/transport"
)

// ErrViolation is wrapped by the error Run returns when an invariant does
// not hold; the error's text lists every violation and the last steps.
var ErrViolation = errors.New("sim: invariant violated")

// ErrStuck: the schedule could not quiesce (an operation never returned
// with the network healed and every frame delivered).
var ErrStuck = errors.New("sim: the schedule did not quiesce")

// Config is one simulation run.
type Config struct {
	// Seed decides everything the scheduler does: the topology, the
	// workload, the faults, the order frames arrive in, the nodes'
	// randomness and their clock.
	Seed uint64
	// Steps is the length of the faulty schedule before the heal (60 if zero).
	Steps int
	// Dir holds the bolt files of the run (required when a seed picks bolt;
	// the caller removes it).
	Dir string
	// Verbose sends the nodes' logs to slog.Default and keeps the whole
	// trace in the report.
	Verbose bool
}

// Report is what a run did and checked.
type Report struct {
	Seed       uint64
	Steps      int
	Topology   string
	Commits    int // commits attempted
	Acked      int // of them acknowledged
	Faults     map[string]int
	Checks     int      // invariant checks made
	Violations []string // what did not hold
	Trace      []string // the schedule, one line per step
	Unsettled  int      // steps after which the nodes did not go quiet within the bound (replay may diverge there)
}

// World is one simulation: the nodes, the network and the scheduler.
type World struct {
	cfg    Config
	seed   uint64
	rng    *rand.Rand
	net    *Network
	q      quiet
	clock  clock
	dir    string
	oracle *oracle

	nodes, servers, clients []*node

	mu   sync.Mutex // guards the nodes' busy, lqs and peer, the trace and the violations
	step int
	ops  sync.WaitGroup // the workload's operations
	bg   sync.WaitGroup // the servers' Accept calls

	trace      []string
	violations []string
	faults     map[string]int
	checks     int
	unsettled  int
	topology   string
}

func (w *World) tracef(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	if w.topology == "" && strings.HasPrefix(line, "topology: ") {
		w.topology = strings.TrimPrefix(line, "topology: ")
	}
	w.trace = append(w.trace, line)
}

func (w *World) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

func (w *World) fault(kind string) {
	w.mu.Lock()
	w.faults[kind]++
	w.mu.Unlock()
}

// stepSettle bounds the wait for quiet after one step.
const stepSettle = 200 * time.Millisecond

// Run runs one seed: build the topology, run the faulty schedule one step
// at a time (waiting for the nodes to go quiet after each), heal the
// network, quiesce, check every invariant, shut everything down and check
// that no goroutine is left. The error wraps ErrViolation or ErrStuck when
// the run found something; the report says what.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Steps == 0 {
		cfg.Steps = 60
	}
	w := &World{cfg: cfg, seed: cfg.Seed, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5157)), net: &Network{}, dir: cfg.Dir, oracle: newOracle(), faults: map[string]int{}}
	w.clock.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() + int64(cfg.Seed%1000)*int64(time.Second))
	base := goroutines()
	err := w.run(ctx)
	w.shutdown()
	if leaked := w.leaks(base); leaked != "" {
		w.violate("goroutines left after shutdown: %s", leaked)
	}
	rep := w.report()
	if err == nil && len(rep.Violations) > 0 {
		err = fmt.Errorf("%w: %s", ErrViolation, strings.Join(rep.Violations, "; "))
	}
	return rep, err
}

func (w *World) report() *Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	commits, _, _, _, _ := w.oracle.snapshot()
	r := &Report{Seed: w.seed, Steps: w.cfg.Steps, Topology: w.topology, Commits: len(commits), Faults: w.faults, Checks: w.checks,
		Violations: append([]string(nil), w.violations...), Trace: append([]string(nil), w.trace...), Unsettled: w.unsettled}
	for _, c := range commits {
		if c.status == acked {
			r.Acked++
		}
	}
	return r
}

func (w *World) run(ctx context.Context) error {
	if err := w.build(ctx); err != nil {
		return err
	}
	for _, x := range w.clients {
		w.connect(x)
	}
	w.settleStep()
	for w.step = 1; w.step <= w.cfg.Steps; w.step++ {
		if err := w.once(ctx); err != nil {
			return err
		}
		w.settleStep()
	}
	if err := w.heal(ctx); err != nil {
		return err
	}
	w.check(ctx)
	return nil
}

func (w *World) settleStep() {
	if !w.settle(stepSettle) {
		w.mu.Lock()
		w.unsettled++
		w.mu.Unlock()
	}
}

// once is one step of the schedule: the clock moves, partitions end or
// start, disconnected clients may reconnect, and one action runs — frames
// delivered, a fault, or an operation of the workload.
func (w *World) once(ctx context.Context) error {
	r := w.rng
	w.clock.ns.Add(int64(r.IntN(20)+1) * int64(time.Millisecond))
	for _, x := range w.clients {
		if x.offline != 0 && x.offline < w.step {
			x.offline = 0
			w.tracef("step %d %s back online", w.step, x.name)
		}
		if x.offline == 0 && x.n != nil && !w.isBusy(x) && !w.connectedLocked(x) && r.IntN(3) == 0 {
			w.tracef("step %d %s reconnects to %s", w.step, x.name, x.server.name)
			w.connect(x)
		}
	}
	k := r.IntN(100)
	switch {
	case k < 45:
		busy := w.net.Busy()
		if len(busy) == 0 {
			return nil
		}
		q := busy[r.IntN(len(busy))]
		n := 1 + r.IntN(4)
		for i := 0; i < n && w.net.Deliver(q); i++ {
		}
		w.tracef("step %d deliver %d frame(s) on link %d towards %s", w.step, n, q.Link.ID, q.target())
	case k < 48:
		busy := w.net.Busy()
		if len(busy) == 0 {
			return nil
		}
		q := busy[r.IntN(len(busy))]
		if !duplicable(w.net.Head(q)) {
			return nil
		}
		w.net.Duplicate(q)
		w.fault("duplicate")
		w.tracef("step %d duplicate a frame on link %d towards %s", w.step, q.Link.ID, q.target())
	case k < 50:
		busy := w.net.Busy()
		if len(busy) == 0 {
			return nil
		}
		q := busy[r.IntN(len(busy))]
		w.net.Drop(q)
		w.fault("drop")
		w.tracef("step %d drop a frame on link %d towards %s (the link is cut)", w.step, q.Link.ID, q.target())
	case k < 53:
		x := w.clients[r.IntN(len(w.clients))]
		x.offline = w.step + 2 + r.IntN(8)
		w.cutNode(x)
		w.fault("offline")
		w.tracef("step %d %s goes offline until step %d", w.step, x.name, x.offline)
	case k < 54:
		until := w.step + 2 + r.IntN(6)
		for _, x := range w.clients {
			x.offline = until
			w.cutNode(x)
		}
		w.fault("partition")
		w.tracef("step %d partition: every client cut off until step %d", w.step, until)
	case k < 56:
		x := w.clients[r.IntN(len(w.clients))]
		w.tracef("step %d crash-restart %s (storage kept)", w.step, x.name)
		w.fault("crash client")
		return w.crash(ctx, x)
	case k < 57:
		x := w.servers[r.IntN(len(w.servers))]
		w.tracef("step %d crash-restart %s (storage kept)", w.step, x.name)
		w.fault("crash server")
		return w.crash(ctx, x)
	case k < 58:
		if len(w.servers) > 1 || r.IntN(2) == 0 {
			return nil
		}
		x := w.servers[0]
		w.tracef("step %d restart %s on an empty store", w.step, x.name)
		w.fault("empty restart")
		return w.wipe(ctx, x)
	default:
		x := w.nodes[r.IntN(len(w.nodes))]
		if x.n == nil || w.isBusy(x) {
			return nil
		}
		w.op(x)
	}
	return nil
}

func (w *World) connectedLocked(x *node) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return x.connected()
}

func (q Queue) target() string {
	if q.ToClient {
		return q.Link.Client
	}
	return q.Link.Server
}

// duplicable reports whether a frame may be delivered twice: a commit
// request (the server must take the same events twice as once) or a
// subscription update (the client must not report a change twice). Other
// frames carry the session's own bookkeeping, which a byte stream never
// repeats.
func duplicable(frame []byte) bool {
	m, err := transport.Decode(frame)
	if err != nil {
		return false
	}
	return (m.Request != nil && m.Request.Commit != nil) || len(m.Updates) > 0
}

// healRounds bounds the rounds of the heal.
const healRounds = 400

// heal ends every fault: clients come online and reconnect, and every frame
// is delivered (in a seeded order) until nothing is in flight, every
// operation returned and every client is connected.
func (w *World) heal(ctx context.Context) error {
	w.tracef("heal")
	for _, x := range w.clients {
		x.offline = 0
	}
	r := w.rng
	for round := 0; round < healRounds; round++ {
		w.step++
		for _, x := range w.clients {
			if x.n != nil && !w.isBusy(x) && !w.connectedLocked(x) {
				w.tracef("heal %d %s reconnects to %s", round, x.name, x.server.name)
				w.connect(x)
			}
		}
		busy := w.net.Busy()
		for len(busy) > 0 {
			w.net.Deliver(busy[r.IntN(len(busy))])
			busy = w.net.Busy()
		}
		w.settleStep()
		if w.net.InFlight() == 0 && w.quietOps() && w.allConnected() {
			if !w.settle(stepSettle) || w.net.InFlight() != 0 {
				continue
			}
			return nil
		}
	}
	var stuck []string
	w.mu.Lock()
	for _, x := range w.nodes {
		if x.busy {
			stuck = append(stuck, x.name)
		}
	}
	w.mu.Unlock()
	return fmt.Errorf("%w: operations still running on %v, %d frames in flight", ErrStuck, stuck, w.net.InFlight())
}

// pumped runs f (a read that goes over the network) while the scheduler
// delivers every frame in flight, until f returns; false if it did not
// within healRounds rounds.
func (w *World) pumped(f func()) bool {
	done := make(chan struct{})
	w.ops.Add(1)
	go func() {
		defer w.ops.Done()
		defer close(done)
		f()
	}()
	for round := 0; round < healRounds; round++ {
		select {
		case <-done:
			return true
		default:
		}
		busy := w.net.Busy()
		for len(busy) > 0 {
			w.net.Deliver(busy[w.rng.IntN(len(busy))])
			busy = w.net.Busy()
		}
		w.settleStep()
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (w *World) quietOps() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.nodes {
		if x.busy {
			return false
		}
	}
	return true
}

func (w *World) allConnected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range w.clients {
		if !x.connected() {
			return false
		}
	}
	return true
}

// shutdown closes every live query, node and store, and waits for every
// goroutine the world started. An operation still blocked (a stuck run)
// ends as its node closes.
func (w *World) shutdown() {
	for _, x := range w.clients {
		w.mu.Lock()
		lqs := x.lqs
		w.mu.Unlock()
		for _, q := range lqs {
			q.lq.Close()
		}
	}
	for _, x := range w.clients {
		w.stop(x)
	}
	for _, x := range w.servers {
		w.stop(x)
	}
	for _, l := range w.net.Links() {
		w.net.Cut(l)
	}
	w.ops.Wait()
	w.bg.Wait()
	for _, x := range w.nodes {
		w.closeEngine(x)
	}
}
