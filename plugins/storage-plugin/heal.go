package storageplugin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
)

// closeTimeout bounds the Close call to a plugin before its process is killed.
const closeTimeout = 10 * time.Second

// watchInterval is how often a host checks that its plugin process runs, so
// a dead one is restarted even when no call notices.
const watchInterval = 200 * time.Millisecond

// healthTimeout bounds a Health check whose context has no deadline.
const healthTimeout = 5 * time.Second

// hostEngine is the storage.Engine a host gets from Open. It owns the
// running plugin process and two goroutines, both ended by Close: a watcher
// that notices the process died, and, while one runs, a restart round.
type hostEngine struct {
	path   string
	o      options
	logger *slog.Logger
	// caps and candidatesOnly are fixed at Open: callers found the engine's
	// interfaces by type assertion, so a restart cannot change them.
	caps           caps
	candidatesOnly bool

	stopCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	proc    *process // nil while the process is being restarted, or after giving up
	closed  bool
	healing bool  // a restart round runs
	attempt int   // of the round running
	lastErr error // why the last round gave up
}

func newHostEngine(path string, o options, logger *slog.Logger, p *process) hostStorage {
	e := &hostEngine{path: path, o: o, logger: logger, caps: p.caps, candidatesOnly: p.candidatesOnly, proc: p}
	e.stopCtx, e.stop = context.WithCancel(context.Background())
	e.wg.Add(1)
	go e.watch()
	return withCaps(e, p.caps)
}

func callCtx(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return context.WithCancel(ctx)
}

func (e *hostEngine) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return callCtx(ctx, e.o.callTimeout)
}

// current returns the running process, or fails fast: ErrClosed after
// Close, ErrUnavailable while the process is down (starting a restart round
// if none runs).
func (e *hostEngine) current(call string) (*process, error) { return e.running(call, true) }

// running is current; restart false only reports a process that is down
// (Health, which a load balancer polls, must not start restart rounds).
func (e *hostEngine) running(call string, restart bool) (*process, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("storageplugin: %s: %w", call, storage.ErrClosed)
	}
	if e.proc != nil && !e.proc.client.Exited() {
		return e.proc, nil
	}
	if restart || e.proc != nil {
		e.lostLocked(e.proc)
	}
	return nil, e.downLocked(call)
}

// lost records that process p died (a call or the watcher saw it exit).
func (e *hostEngine) lost(p *process) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lostLocked(p)
}

func (e *hostEngine) lostLocked(p *process) {
	if e.closed || p != e.proc {
		return // closing, or already replaced
	}
	if p != nil {
		e.logger.Warn("storage plugin process exited; restarting it", "path", e.path)
		p.kill() // releases go-plugin's resources of the dead process
		e.proc = nil
	}
	if e.healing || e.o.restartAttempts <= 0 {
		return
	}
	e.healing, e.attempt = true, 0
	e.wg.Add(1)
	go e.heal()
}

// downLocked is the error of a call made while no process runs.
func (e *hostEngine) downLocked(call string) error {
	switch {
	case e.healing:
		return fmt.Errorf("%w: %s: %s: the plugin process exited; restarting it (attempt %d of %d), retry later",
			ErrUnavailable, call, e.path, max(e.attempt, 1), e.o.restartAttempts)
	case e.o.restartAttempts <= 0:
		return fmt.Errorf("%w: %s: %s: the plugin process exited (restarting is off); reopen the engine",
			ErrUnavailable, call, e.path)
	}
	return fmt.Errorf("%w: %s: %s: the plugin process exited and %d restarts failed (last: %v); the next call tries again",
		ErrUnavailable, call, e.path, e.o.restartAttempts, e.lastErr)
}

// heal runs one restart round: up to restartAttempts starts with growing
// pauses, until one succeeds, Close stops it, or all fail.
func (e *hostEngine) heal() {
	defer e.wg.Done()
	delay := e.o.restartBackoff
	var err error
	for attempt := 1; attempt <= e.o.restartAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(delay)
			select {
			case <-e.stopCtx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, maxBackoff)
		}
		e.mu.Lock()
		e.attempt = attempt
		e.mu.Unlock()
		var p *process
		p, err = startProcess(e.stopCtx, e.path, &e.o, e.logger)
		if e.stopCtx.Err() != nil {
			if p != nil {
				p.kill()
			}
			return
		}
		if err != nil {
			e.logger.Warn("restarting the storage plugin failed", "attempt", attempt, "of", e.o.restartAttempts, "err", err)
			continue
		}
		if lost := e.caps &^ p.caps; lost != 0 {
			e.logger.Warn("the restarted storage plugin lacks capabilities it had; their calls fail", "lost", lost.names())
		}
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			p.kill()
			return
		}
		e.proc, e.healing, e.lastErr = p, false, nil
		e.mu.Unlock()
		e.logger.Info("storage plugin restarted", "attempt", attempt, "pid", p.client.ID())
		return
	}
	e.mu.Lock()
	e.healing, e.lastErr = false, err
	e.mu.Unlock()
	e.logger.Error("gave up restarting the storage plugin; the next call tries again", "attempts", e.o.restartAttempts, "err", err)
}

// watch notices a dead process between calls, so healing starts at once.
func (e *hostEngine) watch() {
	defer e.wg.Done()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stopCtx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		p := e.proc
		e.mu.Unlock()
		if p != nil && p.client.Exited() {
			e.lost(p)
		}
	}
}

// Health reports whether the plugin can serve: nil while its process runs
// and answers gRPC health checks; an error wrapping ErrUnavailable while it
// is down or being restarted; storage.ErrClosed after Close.
func (e *hostEngine) Health(ctx context.Context) error {
	p, err := e.running("Health", false)
	if err != nil {
		return err
	}
	cctx, cancel := callCtx(ctx, healthTimeout)
	defer cancel()
	resp, err := p.health.Check(cctx, &healthpb.HealthCheckRequest{Service: "plugin"})
	if err != nil {
		return e.fromStatus(p, cctx, "Health", err)
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%w: Health: %s reports %s", ErrUnavailable, e.path, resp.Status)
	}
	return nil
}

// Close stops healing, closes the plugin's engine and ends its process.
// Closing twice fails with storage.ErrClosed.
func (e *hostEngine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("storageplugin: Close: %w", storage.ErrClosed)
	}
	e.closed = true
	p := e.proc
	e.proc = nil
	e.mu.Unlock()
	e.stop()
	e.wg.Wait()
	if p == nil {
		return fmt.Errorf("%w: Close: %s: the plugin process was not running; the engine may not have been closed cleanly", ErrUnavailable, e.path)
	}
	defer p.kill()
	if p.client.Exited() {
		return fmt.Errorf("%w: Close: %s: the plugin process has exited; the engine may not have been closed cleanly", ErrUnavailable, e.path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_, err := p.rpc.Close(ctx, &storagev1.CloseRequest{})
	return e.fromStatus(p, ctx, "Close", err)
}
