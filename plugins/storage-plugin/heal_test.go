package storageplugin_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/storage"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// killPlugin kills the one running process of binary started by this test
// process, and returns its pid.
func killPlugin(t *testing.T, binary string) int {
	t.Helper()
	pids := childPIDs(t, binary)
	if len(pids) != 1 {
		t.Fatalf("found %d processes of %s, want 1", len(pids), binary)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pids[0], err)
	}
	return pids[0]
}

// eventually calls f until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after %v", what, err, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHeal_AKilledPluginIsRestartedAndCallsRecover(t *testing.T) {
	ctx := context.Background()
	logs := &records{}
	file := filepath.Join(t.TempDir(), "data")
	path := bin(t, "openplugin")
	e := open(t, "openplugin", storageplugin.WithArgs(file, "ok"), storageplugin.WithLogger(slog.New(logs)),
		storageplugin.WithRestart(5, 50*time.Millisecond))
	h, ok := e.(storage.Healther)
	if !ok {
		t.Fatal("the plugin host does not implement storage.Healther")
	}
	if err := h.Health(ctx); err != nil {
		t.Fatalf("Health of a running plugin: %v", err)
	}
	c := collection(t, e, "album")
	ev, st := created("album", "a", nil)
	if err := e.Apply(ctx, createBatch(ev, st)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	old := killPlugin(t, path)

	// The restarted plugin takes a second to reopen its file: calls in the
	// gap fail at once with the retryable error, and so does Health.
	start := time.Now()
	var gapErr error
	eventually(t, 10*time.Second, "a call while the plugin is down", func() error {
		_, err := c.GetState(ctx, st.ID)
		if errors.Is(err, storageplugin.ErrUnavailable) {
			gapErr = err
			return nil
		}
		return errors.New("GetState did not fail")
	})
	if !errors.Is(gapErr, storage.ErrUnavailable) {
		t.Errorf("GetState in the gap = %v, want it to wrap storage.ErrUnavailable too", gapErr)
	}
	if err := e.Apply(ctx, createBatch(ev, st)); !errors.Is(err, storageplugin.ErrUnavailable) {
		t.Errorf("Apply in the gap = %v, want storageplugin.ErrUnavailable", err)
	}
	if err := h.Health(ctx); !errors.Is(err, storageplugin.ErrUnavailable) {
		t.Errorf("Health in the gap = %v, want storageplugin.ErrUnavailable", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Fatalf("calls in the gap took %v; they should fail at once", time.Since(start))
	}

	// Then the same engine and the same collection handle work again, on a
	// new process (a fresh memory engine: the old entity is gone).
	eventually(t, 30*time.Second, "reads after the restart", func() error {
		_, err := c.GetState(ctx, st.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	})
	if err := e.Apply(ctx, createBatch(ev, st)); err != nil {
		t.Fatalf("Apply after the restart: %v", err)
	}
	if got, err := c.GetState(ctx, st.ID); err != nil || got.ID != st.ID {
		t.Fatalf("GetState after writing again = %v, %v", got.ID, err)
	}
	if err := h.Health(ctx); err != nil {
		t.Fatalf("Health after the restart: %v", err)
	}
	if pids := childPIDs(t, path); len(pids) != 1 || pids[0] == old {
		t.Fatalf("plugin processes after the restart: %v (the killed one was %d)", pids, old)
	}
	if !logs.find(slog.LevelInfo, "storage plugin restarted") {
		t.Error("the restart was not logged")
	}
}

func TestHeal_GivesUpAfterItsAttemptsAndTheNextCallTriesAgain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ankurah-storage-memory")
	binary, err := os.ReadFile(bin(t, "ankurah-storage-memory"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &records{}
	e, err := storageplugin.Open(ctx, path, storageplugin.WithRestart(2, 10*time.Millisecond), storageplugin.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	h := e.(storage.Healther)
	c := collection(t, e, "album")

	// The binary is gone when the host restarts it: both attempts fail.
	pids := childPIDs(t, path)
	if len(pids) != 1 {
		t.Fatalf("found %d plugin processes, want 1", len(pids))
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "giving up", func() error {
		if logs.find(slog.LevelError, "gave up restarting the storage plugin; the next call tries again") {
			return nil
		}
		return errors.New("not given up")
	})
	err = h.Health(ctx)
	if !errors.Is(err, storageplugin.ErrUnavailable) || !strings.Contains(err.Error(), "2 restarts failed") {
		t.Fatalf("Health after giving up = %v, want ErrUnavailable saying the restarts failed", err)
	}

	// The binary is back: the next call starts another round, which heals.
	if err := os.WriteFile(path, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "healing after the binary came back", func() error {
		_, err := c.GetState(ctx, [32]byte{1})
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	})
}

func TestHeal_CloseDuringARestartEndsIt(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	path := bin(t, "openplugin")
	e, err := storageplugin.Open(t.Context(), path, storageplugin.WithArgs(file, "ok"))
	if err != nil {
		t.Fatal(err)
	}
	killPlugin(t, path)
	// The restart takes a second (the file exists); Close does not wait for it
	// to finish, and leaves no process behind.
	eventually(t, 10*time.Second, "the restart starting", func() error {
		if len(childPIDs(t, path)) == 1 {
			return nil
		}
		return errors.New("no new process yet")
	})
	start := time.Now()
	err = e.Close()
	if !errors.Is(err, storageplugin.ErrUnavailable) {
		t.Errorf("Close during a restart = %v, want ErrUnavailable (the engine was not closed cleanly)", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	eventually(t, 10*time.Second, "the restarted process ending", func() error {
		for _, pid := range childPIDs(t, path) {
			if alive(pid) {
				return errors.New("a plugin process still runs")
			}
		}
		return nil
	})
	if _, err := e.Collection(t.Context(), "album"); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Collection after Close = %v, want storage.ErrClosed", err)
	}
}

func TestServe_RunByHandOpensNothing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	out, err := execOutput(bin(t, "openplugin"), file, "ok")
	if err == nil {
		t.Fatalf("the plugin run by hand exited 0:\n%s", out)
	}
	if !strings.Contains(out, "is an ankurah storage plugin") {
		t.Errorf("the plugin run by hand does not explain itself:\n%s", out)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("running the plugin by hand opened (created) its file: %v", err)
	}
}
