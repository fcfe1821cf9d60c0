package storageplugin_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// childPIDs returns the pids of this process's children running binary.
func childPIDs(t testing.TB, binary string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to find the plugin process: %v", err)
	}
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so split after ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", ent.Name(), "exe")); err == nil && exe == binary {
			pids = append(pids, pid)
		}
	}
	return pids
}

// records is a slog handler that keeps what it is given.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) find(level slog.Level, msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Level == level && rec.Message == msg {
			return true
		}
	}
	return false
}

func TestHang_CallsFailAtTheirDeadlineAndTheHostGoesOn(t *testing.T) {
	logs := &records{}
	e := open(t, "hangplugin", storageplugin.WithLogger(slog.New(logs)), storageplugin.WithCallTimeout(500*time.Millisecond))
	c := collection(t, e, "album")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.GetState(ctx, id.EntityID{1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetState on a hung plugin = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("GetState error %q does not say the plugin did not answer", err)
	}
	// Without a deadline of its own, a call gets WithCallTimeout's.
	_, err = c.FetchStates(context.Background(), &query.Bound{Limit: -1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("FetchStates on a hung plugin = %v, want context.DeadlineExceeded", err)
	}
	// What does not hang still works.
	ev, st := created("album", "a", nil)
	if err := e.Apply(context.Background(), createBatch(ev, st)); err != nil {
		t.Fatalf("Apply next to hung calls: %v", err)
	}
	// The plugin's own log line reached the host's slog at its level.
	if !logs.find(slog.LevelWarn, "hangplugin: GetState hangs") {
		t.Errorf("the plugin's warning did not reach the host's logger")
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close of a plugin with hung calls: %v", err)
	}
}

func TestOpen_RefusesIncompatibleProtocolVersion(t *testing.T) {
	_, err := storageplugin.Open(t.Context(), bin(t, "futureplugin"))
	if !errors.Is(err, storageplugin.ErrIncompatible) {
		t.Fatalf("Open of a protocol-99 plugin = %v, want storageplugin.ErrIncompatible", err)
	}
	for _, want := range []string{"version 99", "version 1 or " + strconv.Itoa(storageplugin.ProtocolVersion)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestOpen_RefusesWhatIsNotAPlugin(t *testing.T) {
	script := filepath.Join(t.TempDir(), "not-a-plugin")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"a program that is not a plugin", script},
		{"a missing file", filepath.Join(t.TempDir(), "missing")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			e, err := storageplugin.Open(ctx, tt.path)
			if err == nil {
				_ = e.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the binary", err)
			}
		})
	}
}

func TestHostDeath_PluginExits(t *testing.T) {
	path := bin(t, "ankurah-storage-memory")
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), hostEnv+"="+path)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("host said %q, %v", line, err)
	}
	var plugin int
	for _, pid := range allPIDs(t) {
		if ppid, exe := procParent(pid); ppid == host.Process.Pid && exe == path {
			plugin = pid
		}
	}
	if plugin == 0 {
		t.Fatal("cannot find the host's plugin process")
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for alive(plugin) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(plugin, syscall.SIGKILL)
			t.Fatalf("plugin %d still runs 30s after its host was killed", plugin)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func allPIDs(t *testing.T) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, ent := range entries {
		if pid, err := strconv.Atoi(ent.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procParent returns a process's parent pid and executable.
func procParent(pid int) (int, string) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, ""
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ppid, _ := strconv.Atoi(fields[1])
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return ppid, exe
}

// alive reports whether a process runs (a zombie has exited).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
