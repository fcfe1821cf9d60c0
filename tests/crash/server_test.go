package crash

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildDir holds the server binary; TestMain removes it.
var buildDir string

// buildServer builds cmd/ankurah once per test process.
var buildServer = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ankurah-crash-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	path := filepath.Join(dir, "ankurah")
	cmd := exec.Command("go", "build", "-o", path, ".")
	cmd.Dir = filepath.Join("..", "..", "cmd", "ankurah")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/ankurah: %v\n%s", err, out)
	}
	return path, nil
})

// freeAddr returns a loopback address with a port free right now; the
// server binds it on every restart, so the clients' URL stays the same.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// server is `ankurah serve` run again and again on one store and address.
type server struct {
	bin, storage, addr string
	log                *tail

	cmd    *exec.Cmd
	exited chan struct{} // closed when the running process has been waited for
}

var servingLine = regexp.MustCompile(`ankurah serving"? .*\bws=(ws://[^ ]+) .*\bsystem_id=([^ ]+)`)

// start runs the server and waits (30 s at most) until it says it serves;
// it returns its system id.
func (s *server) start() (string, error) {
	if s.cmd != nil {
		return "", fmt.Errorf("server already running (pid %d)", s.cmd.Process.Pid)
	}
	ready := make(chan []string, 1)
	s.log.watch(func(line string) bool {
		if m := servingLine.FindStringSubmatch(line); m != nil {
			ready <- m
			return true
		}
		return false
	})
	cmd := exec.Command(s.bin, "serve", "--addr", s.addr, "--storage", s.storage)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case m := <-ready:
		if want := "ws://" + s.addr + "/ws"; m[1] != want {
			return "", fmt.Errorf("server serves %s, want %s", m[1], want)
		}
		return m[2], nil
	case <-s.exited:
		s.cmd = nil
		return "", fmt.Errorf("ankurah serve exited before serving (%v)", cmd.ProcessState)
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("ankurah serve (pid %d) did not say it serves within 30 s", cmd.Process.Pid)
	}
}

// kill ends the running server with SIGKILL and waits for it.
func (s *server) kill() error {
	if s.cmd == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	_ = s.cmd.Process.Kill()
	select {
	case <-s.exited:
		s.cmd = nil
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("ankurah serve (pid %d) still running 30 s after SIGKILL", pid)
	}
}

// tail is an io.Writer keeping the last lines written to it (for failure
// messages) and handing each line to the current watcher.
type tail struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	watcher func(string) bool // true: done watching
}

const tailLines = 60

func (l *tail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.lines = append(l.lines, line)
		if len(l.lines) > tailLines {
			l.lines = l.lines[len(l.lines)-tailLines:]
		}
		if l.watcher != nil && l.watcher(line) {
			l.watcher = nil
		}
	}
	return len(p), nil
}

func (l *tail) watch(f func(string) bool) {
	l.mu.Lock()
	l.watcher = f
	l.mu.Unlock()
}

// String returns the kept lines.
func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
