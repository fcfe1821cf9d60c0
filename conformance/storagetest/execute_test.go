package storagetest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

func memoryHarness(closed *atomic.Int32) HarnessMaker {
	return func(context.Context, T) (Harness, error) {
		e := memory.New()
		share := func(context.Context) (storage.Engine, error) { return e.Share() }
		return NewSharedHarness(e, Capabilities{Indexes: true, Lookup: true, Repair: true}, share, func() { closed.Add(1) }), nil
	}
}

func TestExecute_PassesEveryCaseOnMemory(t *testing.T) {
	var closed atomic.Int32
	cases := Cases()
	for _, c := range cases {
		r := Execute(t.Context(), c, memoryHarness(&closed))
		switch {
		case r.Status == Skip && c.Name == "Engine/FormatVersion":
			// The memory engine keeps no format on disk (not a Reopener).
		case r.Status != Pass:
			t.Errorf("%s: %s %q", c.Name, r.Status, r.Log)
		}
	}
	if int(closed.Load()) != len(cases) {
		t.Errorf("%d harnesses closed, want %d", closed.Load(), len(cases))
	}
}

func TestExecute_ReportsFailSkipAndPanic(t *testing.T) {
	var closed atomic.Int32
	var cleanups []string
	cases := []struct {
		c        Case
		want     Status
		wantLogs []string
	}{
		{Case{"pass", func(_ context.Context, t T, h Harness) {
			t.Logf("fine")
			t.Cleanup(func() { cleanups = append(cleanups, "first") })
			t.Cleanup(func() { cleanups = append(cleanups, "second") })
		}}, Pass, []string{"fine"}},
		{Case{"fatal stops the case", func(_ context.Context, t T, h Harness) {
			t.Fatalf("stop %d", 1)
			t.Errorf("must not run")
		}}, Fail, []string{"stop 1"}},
		{Case{"errors continue", func(_ context.Context, t T, h Harness) {
			t.Errorf("one")
			t.Errorf("two")
		}}, Fail, []string{"one", "two"}},
		{Case{"skip", func(_ context.Context, t T, h Harness) {
			t.Skipf("not supported: %s", "x")
			t.Errorf("must not run")
		}}, Skip, []string{"not supported: x"}},
		{Case{"panic", func(_ context.Context, t T, h Harness) {
			panic("boom")
		}}, Fail, []string{"panic: boom"}},
		{Case{"failing cleanup", func(_ context.Context, t T, h Harness) {
			t.Cleanup(func() { t.Fatalf("cleanup failed") })
		}}, Fail, []string{"cleanup failed"}},
	}
	for _, tc := range cases {
		r := Execute(t.Context(), tc.c, memoryHarness(&closed))
		if r.Status != tc.want || r.Name != tc.c.Name {
			t.Errorf("%s: %s %s, want %s", tc.c.Name, r.Name, r.Status, tc.want)
		}
		if len(r.Log) != len(tc.wantLogs) {
			t.Errorf("%s: log %q, want %q", tc.c.Name, r.Log, tc.wantLogs)
			continue
		}
		for i := range r.Log {
			if !strings.HasPrefix(r.Log[i], tc.wantLogs[i]) {
				t.Errorf("%s: log %q, want %q", tc.c.Name, r.Log, tc.wantLogs)
			}
		}
	}
	if int(closed.Load()) != len(cases) {
		t.Errorf("%d harnesses closed, want %d (FailNow, SkipNow and panics too)", closed.Load(), len(cases))
	}
	if strings.Join(cleanups, ",") != "second,first" {
		t.Errorf("cleanups ran as %v, want last-in first-out", cleanups)
	}
}

func TestExecute_HarnessErrorFailsTheCase(t *testing.T) {
	r := Execute(t.Context(), Cases()[0], func(context.Context, T) (Harness, error) {
		return nil, context.DeadlineExceeded
	})
	if r.Status != Fail || len(r.Log) != 1 || !strings.Contains(r.Log[0], "making harness") {
		t.Errorf("got %s %q, want a failure naming the harness", r.Status, r.Log)
	}
}

func TestRun_WithACustomT(t *testing.T) {
	var closed atomic.Int32
	r := &recorder{name: "custom"}
	Run(r, memoryHarness(&closed))
	if r.Failed() {
		t.Errorf("the suite failed on memory through a custom T: %q", r.log)
	}
	if int(closed.Load()) != len(Cases()) {
		t.Errorf("%d harnesses closed, want %d", closed.Load(), len(Cases()))
	}
}
