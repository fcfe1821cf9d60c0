// Package storagetest is the conformance suite every storage.Engine passes:
// in process (memory, bolt, PostgreSQL, TiKV), out of process (a go-plugin
// engine) and in the browser.
//
// An engine's tests wire it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(ctx context.Context, t storagetest.T) (storagetest.Harness, error) {
//			return storagetest.NewHarness(memory.New(), storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, nil), nil
//		})
//	}
//
// A runner that is not `go test` (the ankurah-conformance command) takes the
// cases from Cases and runs each with Execute, or with its own T.
package storagetest

import (
	"context"
	"sync"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage"
)

// T is what a case needs of its test: the part of testing.TB the suite uses.
// *testing.T implements it. A custom implementation must stop the case in
// FailNow and SkipNow (Fatalf and Skipf call them), e.g. with
// runtime.Goexit when the case runs in its own goroutine, as Execute does.
// Errorf and Logf are only called from the case's goroutine.
type T interface {
	Helper()
	Name() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	FailNow()
	SkipNow()
	Failed() bool
	Skipped() bool
	Cleanup(func())
}

// Capabilities declares what an engine supports beyond the Engine contract.
// Cases that need a capability the harness does not declare are skipped.
type Capabilities struct {
	// Indexes: the engine implements storage.Indexer. The AnkQL corpus then
	// also runs with indexes declared (before and after the data is written)
	// on every property its entities use, and must give the same answers.
	Indexes bool
	// Lookup: the engine implements storage.CollectionLooker. The Lookup
	// cases check that an unknown name is storage.ErrNotFound and creates
	// nothing, and that a written collection is found.
	Lookup bool
	// Repair: the engine implements storage.Repairer. The Repair cases
	// remove rows that decode (writing undecodable ones needs the engine's
	// raw API, which each engine's own tests do) and check that a clean
	// collection lists no bad rows.
	Repair bool
}

// Harness gives a case the engine under test. A HarnessMaker is called once
// per case and Close when the case ends.
type Harness interface {
	// Engine returns the engine under test. It may hold data from other
	// cases: every case writes to collections whose names it makes unique.
	// A case may close it (the ErrClosed case does).
	Engine() storage.Engine
	// Capabilities declares what the engine supports beyond the contract.
	Capabilities() Capabilities
	// Close releases the harness; the engine may already be closed.
	Close()
}

// Sharer is a Harness that can open another handle on its engine's store —
// what a second server sharing the database opens. The Feed cases need it
// when the engine is a storage.ChangeFeed.
type Sharer interface {
	// Share opens another handle on the store of Engine(). The harness
	// closes it at Close unless the case did.
	Share(ctx context.Context) (storage.Engine, error)
}

// HarnessMaker makes a harness for one case.
type HarnessMaker func(ctx context.Context, t T) (Harness, error)

// Case is one conformance case.
type Case struct {
	// Name is unique within Cases and stable across releases ("Apply/Atomic").
	Name string
	// Run runs the case against h's engine, reporting through t.
	Run func(ctx context.Context, t T, h Harness)
}

// NewHarness returns a Harness over an engine: Close closes the engine
// (ignoring storage.ErrClosed) and then calls cleanup, when not nil.
func NewHarness(e storage.Engine, caps Capabilities, cleanup func()) Harness {
	return &engineHarness{e: e, caps: caps, cleanup: cleanup}
}

// NewSharedHarness is NewHarness for an engine that can be opened again on
// the same store: the harness is a Sharer whose Share calls share. Close
// closes every shared handle, then the engine, then calls cleanup.
func NewSharedHarness(e storage.Engine, caps Capabilities, share func(ctx context.Context) (storage.Engine, error), cleanup func()) Harness {
	return &sharedHarness{engineHarness: engineHarness{e: e, caps: caps, cleanup: cleanup}, share: share}
}

type engineHarness struct {
	e       storage.Engine
	caps    Capabilities
	cleanup func()
}

func (h *engineHarness) Engine() storage.Engine     { return h.e }
func (h *engineHarness) Capabilities() Capabilities { return h.caps }
func (h *engineHarness) Close() {
	_ = h.e.Close() // the case may have closed it; nothing to report either way
	if h.cleanup != nil {
		h.cleanup()
	}
}

type sharedHarness struct {
	engineHarness
	share  func(ctx context.Context) (storage.Engine, error)
	mu     sync.Mutex
	opened []storage.Engine
}

func (h *sharedHarness) Share(ctx context.Context) (storage.Engine, error) {
	e, err := h.share(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.opened = append(h.opened, e)
	h.mu.Unlock()
	return e, nil
}

func (h *sharedHarness) Close() {
	h.mu.Lock()
	opened := h.opened
	h.opened = nil
	h.mu.Unlock()
	for _, e := range opened {
		_ = e.Close() // the case may have closed it
	}
	h.engineHarness.Close()
}

// Run runs every case of the suite. With a *testing.T each case is a
// subtest (t.Run); with any other T the cases run one after another, each in
// its own goroutine so that a FailNow implemented with runtime.Goexit stops
// only that case.
func Run(t T, newHarness HarnessMaker) {
	t.Helper()
	cases := Cases()
	if tt, ok := t.(*testing.T); ok {
		for _, c := range cases {
			tt.Run(c.Name, func(tt *testing.T) { RunCase(tt.Context(), tt, c, newHarness) })
		}
		return
	}
	for _, c := range cases {
		done := make(chan struct{})
		go func() {
			defer close(done)
			t.Logf("=== RUN %s", c.Name)
			RunCase(context.Background(), t, c, newHarness)
		}()
		<-done
	}
}

// RunCase runs one case with a fresh harness from newHarness on t, closing
// the harness when the case ends (also when it stops through FailNow).
func RunCase(ctx context.Context, t T, c Case, newHarness HarnessMaker) {
	t.Helper()
	h, err := newHarness(ctx, t)
	if err != nil {
		t.Fatalf("making harness: %v", err)
		return
	}
	defer h.Close()
	c.Run(ctx, t, h)
}
