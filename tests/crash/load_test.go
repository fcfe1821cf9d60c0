package crash

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// collection holds one entity per commit: {w: writer, seq: attempt}.
const collection = "crash"

// key names one commit attempt.
type key struct{ w, seq int64 }

// outcome is what the client was told about one commit attempt.
type outcome struct {
	acked   bool // Commit returned nil
	offline bool // the server was down from before Commit began until it returned
}

// ledger records every writer's attempts, in order (index = seq).
type ledger struct {
	mu       sync.Mutex
	attempts [][]outcome
	failed   []error // the first few errors of commits that were not acknowledged
	nfailed  int
}

func newLedger(writers int) *ledger { return &ledger{attempts: make([][]outcome, writers)} }

func (l *ledger) record(w int, o outcome, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts[w] = append(l.attempts[w], o)
	if err != nil {
		l.nfailed++
		if len(l.failed) < 5 {
			l.failed = append(l.failed, err)
		}
	}
}

// mark returns how many attempts each writer has recorded so far.
func (l *ledger) mark() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make([]int, len(l.attempts))
	for w, a := range l.attempts {
		m[w] = len(a)
	}
	return m
}

// acked returns the acknowledged attempts before mark.
func (l *ledger) acked(mark []int) map[key]outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[key]outcome{}
	for w, n := range mark {
		for seq, o := range l.attempts[w][:n] {
			if o.acked {
				out[key{int64(w), int64(seq)}] = o
			}
		}
	}
	return out
}

// writer is one ephemeral client node, connected over websockets, creating
// one entity per commit as fast as its pacing allows.
type writer struct {
	w      int
	node   *core.Node
	client *ws.Client
	ups    atomic.Int64 // connections made (ws.Connected transitions)
	unsub  func()
}

func newWriter(ctx context.Context, w int, url string, logger *slog.Logger) (*writer, error) {
	n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral), core.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	wr := &writer{w: w, node: n}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := ws.Dial(dctx, url, n, ws.WithBackoff(20*time.Millisecond, 250*time.Millisecond), ws.WithClientLogger(logger))
	if err != nil {
		if c != nil {
			c.Close()
		}
		n.Close()
		return nil, err
	}
	wr.client = c
	wr.ups.Store(1)
	wr.unsub = c.State().Subscribe(func(s ws.State) {
		if s == ws.Connected {
			wr.ups.Add(1)
		}
	})
	return wr, nil
}

// connectedSince reports whether the client is connected on a connection
// made after it had made ups connections.
func (wr *writer) connectedSince(ups int64) bool {
	return wr.ups.Load() > ups && wr.client.State().Get() == ws.Connected && wr.client.Peer() != nil
}

// run commits until ctx ends (or limit attempts), recording each outcome.
// down tells whether the server is known to be dead; each commit holds gate
// for reading, so whoever holds it for writing pauses the load.
func (wr *writer) run(ctx context.Context, l *ledger, down *atomic.Bool, gate *sync.RWMutex, rng *rand.Rand, limit int) {
	c := wr.node.Context(nil)
	for seq := 0; seq < limit && ctx.Err() == nil; seq++ {
		gate.RLock()
		wasDown := down.Load()
		err := commitOne(ctx, c, wr.w, seq)
		gate.RUnlock()
		if ctx.Err() != nil && err != nil {
			// Cut short by the end of the load: recorded as not acknowledged.
			l.record(wr.w, outcome{}, nil)
			return
		}
		l.record(wr.w, outcome{acked: err == nil, offline: err == nil && wasDown && down.Load()}, err)
		// Pacing (5–15 ms between commits) keeps what a downtime puts in the
		// outbox within what the server takes in a second or two.
		time.Sleep(5*time.Millisecond + time.Duration(rng.Int64N(int64(10*time.Millisecond))))
	}
}

func commitOne(ctx context.Context, c *core.Context, w, seq int) error {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	trx := c.Begin()
	m, err := trx.Create(cctx, collection)
	if err != nil {
		trx.Rollback()
		return err
	}
	if err := m.Set("w", w); err != nil {
		trx.Rollback()
		return err
	}
	if err := m.Set("seq", seq); err != nil {
		trx.Rollback()
		return err
	}
	return trx.Commit(cctx)
}

func (wr *writer) close() {
	wr.unsub()
	wr.client.Close()
	wr.node.Close()
}
