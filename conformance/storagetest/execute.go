package storagetest

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Status is the outcome of a case.
type Status int

// The outcomes of a case.
const (
	Pass Status = iota
	Fail
	Skip
)

// String returns "pass", "fail" or "skip".
func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// MarshalText renders the status as String does (for JSON reports).
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is what Execute reports of one case.
type Result struct {
	Name   string
	Status Status
	// Log holds the case's messages in order: its logs, the errors that
	// failed it, or the reason it was skipped.
	Log []string
}

// Execute runs one case outside `go test`: in its own goroutine with a T that
// records messages, stops the case on FailNow/SkipNow (runtime.Goexit) and
// turns a panic into a failure. It returns when the case and its cleanups
// have finished.
func Execute(ctx context.Context, c Case, newHarness HarnessMaker) Result {
	r := &recorder{name: c.Name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.runCleanups()
		defer func() {
			if p := recover(); p != nil {
				r.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		RunCase(ctx, r, c, newHarness)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{Name: c.Name, Log: append([]string(nil), r.log...)}
	switch {
	case r.failed:
		res.Status = Fail
	case r.skipped:
		res.Status = Skip
	}
	return res
}

// recorder is the T of Execute.
type recorder struct {
	name     string
	mu       sync.Mutex
	log      []string
	failed   bool
	skipped  bool
	cleanups []func()
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }

func (r *recorder) add(format string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

func (r *recorder) Logf(format string, args ...any) { r.add(format, args) }

func (r *recorder) Errorf(format string, args ...any) {
	r.add(format, args)
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.FailNow()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.add(format, args)
	r.SkipNow()
}

func (r *recorder) FailNow() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// runCleanups runs the registered cleanups last-in first-out; a cleanup that
// calls FailNow stops only itself.
func (r *recorder) runCleanups() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					r.Errorf("panic in cleanup: %v", p)
				}
			}()
			f()
		}()
		<-done
	}
}
