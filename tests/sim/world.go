package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

// Engine kinds a durable node of the simulation runs on.
const (
	EngineMemory = "memory"
	EngineBolt   = "bolt"
)

// node is one simulated node and what the scheduler knows of it.
type node struct {
	name    string
	index   int
	durable bool
	kind    string // EngineMemory or EngineBolt
	path    string // the bolt file (EngineBolt)
	shared  bool   // a durable node on a store shared with another (WithSharedStorage)
	engine  storage.Engine
	n       *core.Node // nil while down
	life    int        // incarnations so far (seeds its randomness)
	busy    bool       // an operation of the workload runs on it (guarded by World.mu)

	// clients only
	server  *node      // the server it (re)connects to
	peer    *core.Peer // the current connection (nil: never connected)
	link    *Link
	offline int // partitioned until this step (inclusive)
	met     int // the system epoch of its last connection (guarded by World.mu)
	lqs     []*liveQuery
}

func (x *node) connected() bool {
	if x.peer == nil {
		return false
	}
	select {
	case <-x.peer.Done():
		return false
	default:
		return true
	}
}

// clock is the virtual clock every node reads (WithClock); the scheduler
// advances it.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// lockedReader makes a seeded generator an io.Reader safe for concurrent
// use (a node guards its own reads, but the text datatype's forks do not
// read it, so one lock is plenty).
type lockedReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func (w *World) randomFor(x *node) io.Reader {
	var seed [32]byte
	s := rand.New(rand.NewPCG(w.seed, uint64(x.index)<<32|uint64(x.life)))
	for i := range seed {
		seed[i] = byte(s.Uint64())
	}
	return &lockedReader{r: rand.NewChaCha8(seed)}
}

// agent refuses every write that leaves a "forbidden" value on an entity:
// the workload's policy denials. Servers run it; clients are permissive, so
// a denial comes from upstream — at once when online, when the outbox drains
// when the commit was made offline.
type agent struct{ policy.Permissive }

// ErrForbidden is the reason the simulation's policy gives for a denial.
var ErrForbidden = errors.New("sim: forbidden property written")

func (agent) CheckEvent(_ context.Context, _ policy.ContextData, _ *event.Event, _, after *entity.State) error {
	if after != nil && !after.Values.Get("forbidden").IsNull() {
		return fmt.Errorf("%w: %w", policy.ErrAccessDenied, ErrForbidden)
	}
	return nil
}

func (w *World) logger() *slog.Logger {
	if w.cfg.Verbose {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// start opens the node's storage (if needed) and a node on it.
func (w *World) start(ctx context.Context, x *node) error {
	if x.engine == nil {
		switch x.kind {
		case EngineBolt:
			e, err := bolt.Open(ctx, x.path, bolt.WithNoSync(true), bolt.WithLogger(w.logger()))
			if err != nil {
				return fmt.Errorf("open bolt for %s: %w", x.name, err)
			}
			x.engine = e
		default:
			x.engine = memory.New()
		}
	}
	x.life++
	opts := []core.Option{core.WithClock(w.clock.now), core.WithRandom(w.randomFor(x)), core.WithLogger(w.logger())}
	var a policy.Agent = policy.Permissive{}
	if x.durable {
		a = agent{}
		if x.shared {
			opts = append(opts, core.WithSharedStorage())
		}
	} else {
		opts = append(opts, core.WithRole(core.Ephemeral))
	}
	n, err := core.NewNode(ctx, x.engine, a, opts...)
	if err != nil {
		return fmt.Errorf("start %s: %w", x.name, err)
	}
	w.mu.Lock()
	x.n = n
	w.mu.Unlock()
	return nil
}

// stop closes the node (its live queries end with it); its storage stays.
func (w *World) stop(x *node) {
	if x.n == nil {
		return
	}
	x.n.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	x.n = nil
	x.peer, x.link = nil, nil
	for _, lq := range x.lqs {
		lq.closed = true
	}
	x.lqs = nil
}

// closeEngine closes the node's storage handle (bolt: the file; memory:
// its data goes with the last handle).
func (w *World) closeEngine(x *node) {
	if x.engine != nil {
		x.engine.Close()
		x.engine = nil
	}
}

// build makes the topology of one seed: one system of durable servers —
// one on bolt, one on memory, or two sharing one memory store — and
// ephemeral clients on memory, each attached to one of the servers.
func (w *World) build(ctx context.Context) error {
	nsrv := 1
	kind := EngineMemory
	switch w.rng.IntN(3) {
	case 0:
		kind = EngineBolt
	case 1:
		nsrv = 2
	}
	for i := 0; i < nsrv; i++ {
		x := &node{name: fmt.Sprintf("s%d", i), index: len(w.nodes), durable: true, kind: kind, shared: nsrv > 1}
		if kind == EngineBolt {
			x.path = filepath.Join(w.dir, fmt.Sprintf("%s.bolt", x.name))
		}
		if i > 0 {
			e, err := w.servers[0].engine.(*memory.Engine).Share()
			if err != nil {
				return err
			}
			x.engine = e
		}
		if err := w.start(ctx, x); err != nil {
			return err
		}
		w.nodes, w.servers = append(w.nodes, x), append(w.servers, x)
	}
	ncl := 2 + w.rng.IntN(2)
	for i := 0; i < ncl; i++ {
		x := &node{name: fmt.Sprintf("c%d", i), index: len(w.nodes), kind: EngineMemory}
		x.server = w.servers[w.rng.IntN(len(w.servers))]
		if err := w.start(ctx, x); err != nil {
			return err
		}
		w.nodes, w.clients = append(w.nodes, x), append(w.clients, x)
	}
	w.tracef("topology: %d server(s) on %s%s, %d clients", nsrv, kind, map[bool]string{true: " (shared store)"}[nsrv > 1], ncl)
	return nil
}

// connect starts a connection from client x to its server as x's
// operation: the handshake, then the node's resync (offline outbox,
// re-subscriptions), which Connect runs before it returns.
func (w *World) connect(x *node) {
	srv := x.server
	if srv.n == nil || x.n == nil {
		return
	}
	l, cc, sc := w.net.Dial(x.name, srv.name)
	x.link = l
	sn := srv.n
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		_ = sn.Accept(context.Background(), sc)
	}()
	cn := x.n
	w.launch(x, "connect", func(ctx context.Context) string {
		p, err := cn.Connect(ctx, cc, []byte(x.name))
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			return "connect failed: " + err.Error()
		}
		if x.n == cn {
			x.peer = p
			x.met = w.oracle.current()
		}
		return "connected"
	})
}

// launch runs op as node x's operation on a goroutine the world waits for;
// the scheduler starts at most one per node at a time.
func (w *World) launch(x *node, what string, op func(ctx context.Context) string) {
	w.mu.Lock()
	x.busy = true
	w.mu.Unlock()
	step := w.step
	w.ops.Add(1)
	go func() {
		defer w.ops.Done()
		res := op(context.Background())
		w.mu.Lock()
		x.busy = false
		w.mu.Unlock()
		w.tracef("  step %d %s %s: %s", step, x.name, what, res)
	}()
}

// seen returns the system epoch node x last met (a server: the current one).
func (w *World) seen(x *node) int {
	if x.durable {
		return w.oracle.current()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return x.met
}

func (w *World) isBusy(x *node) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return x.busy
}

// crash closes node x and starts it again on the same storage: for bolt
// the file is closed and reopened, for memory the store stays in the
// process. (A close, not a SIGKILL: tests/crash kills real processes.)
func (w *World) crash(ctx context.Context, x *node) error {
	w.stop(x)
	if x.kind == EngineBolt {
		w.closeEngine(x)
	}
	return w.start(ctx, x)
}

// wipe restarts the (only) server on an empty store: a new system, which
// its clients meet on their next connection and drop their caches for.
func (w *World) wipe(ctx context.Context, x *node) error {
	w.stop(x)
	w.closeEngine(x)
	if x.kind == EngineBolt {
		x.path = filepath.Join(w.dir, fmt.Sprintf("%s-%d.bolt", x.name, x.life))
	}
	w.oracle.wipe()
	return w.start(ctx, x)
}

// cutNode cuts every link of node x.
func (w *World) cutNode(x *node) {
	for _, l := range w.net.Links() {
		if l.Client == x.name || l.Server == x.name {
			w.net.Cut(l)
		}
	}
}
