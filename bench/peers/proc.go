package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrChild: a child process failed, exited early or did not answer in time.
var ErrChild = errors.New("child process")

// msg is one JSON line a child printed on stdout.
type msg map[string]any

func (m msg) str(k string) string { s, _ := m[k].(string); return s }
func (m msg) num(k string) float64 {
	f, _ := m[k].(float64)
	return f
}

// children holds every process this one started, so that they can be ended
// by PID whatever way the orchestrator leaves.
var children = struct {
	sync.Mutex
	m map[int]*proc
}{m: map[int]*proc{}}

// verbose echoes children's stderr.
var verbose = os.Getenv("BENCH_VERBOSE") != ""

// proc is a started child: JSON lines on its stdout are messages, send writes
// JSON lines to its stdin. Its stdout reader goroutine ends when the child's
// stdout closes (the child exited or was killed).
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	msgs  chan msg // bounded; the reader blocks while it is full (children send few lines)
	done  chan struct{}

	mu      sync.Mutex
	tail    []byte // last 8 KiB of stderr, for error messages
	pending []msg  // messages read while waiting for another type
}

// start runs argv as a child. The child gets SIGKILL if this process dies
// (Pdeathsig), besides the explicit stop/killAll by PID.
func start(name string, argv []string, env []string, dir string) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, stdin: stdin, msgs: make(chan msg, 1024), done: make(chan struct{})}
	cmd.Stderr = tailWriter{p}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrChild, name, err)
	}
	children.Lock()
	children.m[cmd.Process.Pid] = p
	children.Unlock()
	go func() {
		defer close(p.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if len(line) == 0 || line[0] != '{' {
				continue
			}
			var m msg
			if json.Unmarshal(line, &m) == nil {
				p.msgs <- m
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		children.Lock()
		delete(children.m, cmd.Process.Pid)
		children.Unlock()
		close(p.done)
	}()
	return p, nil
}

type tailWriter struct{ p *proc }

func (w tailWriter) Write(b []byte) (int, error) {
	if verbose {
		fmt.Fprintf(os.Stderr, "[%s] %s", w.p.name, b)
	}
	w.p.mu.Lock()
	w.p.tail = append(w.p.tail, b...)
	if len(w.p.tail) > 8192 {
		w.p.tail = append([]byte(nil), w.p.tail[len(w.p.tail)-8192:]...)
	}
	w.p.mu.Unlock()
	return len(b), nil
}

func (p *proc) stderrTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := strings.TrimSpace(string(p.tail))
	if i := strings.LastIndexByte(s[:max(0, len(s)-600)], '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// send writes m as one JSON line to the child's stdin.
func (p *proc) send(m any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

// wait returns the next message of type typ, within d. A message of type
// "error" from the child, its exit, or the timeout is an ErrChild.
func (p *proc) wait(ctx context.Context, typ string, d time.Duration) (msg, error) {
	p.mu.Lock()
	for i, m := range p.pending {
		if m.str("type") == typ {
			p.pending = append(p.pending[:i], p.pending[i+1:]...)
			p.mu.Unlock()
			return m, nil
		}
	}
	p.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case m, ok := <-p.msgs:
			if !ok {
				<-p.done
				return nil, fmt.Errorf("%w %s exited (%v) before %q: %s", ErrChild, p.name, p.cmd.ProcessState, typ, p.stderrTail())
			}
			switch m.str("type") {
			case typ:
				return m, nil
			case "error":
				return nil, fmt.Errorf("%w %s: %s", ErrChild, p.name, m.str("error"))
			}
			p.mu.Lock()
			p.pending = append(p.pending, m)
			p.mu.Unlock()
		case <-t.C:
			return nil, fmt.Errorf("%w %s: no %q within %v: %s", ErrChild, p.name, typ, d, p.stderrTail())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// stop ends the child by its PID: its stdin is closed (children exit at EOF),
// then SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil {
		return
	}
	_ = p.stdin.Close()
	select {
	case <-p.done:
		return
	case <-time.After(200 * time.Millisecond):
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// killAll sends SIGKILL to every child still running, by PID.
func killAll() {
	children.Lock()
	defer children.Unlock()
	for pid := range children.m {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// cpuMs is a process's user+system CPU time in milliseconds from /proc (10 ms
// grain at the usual 100 ticks per second), and rssMB its resident memory.
func cpuMs(pid int) (cpu float64, rssMB float64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 22 {
		return 0, 0, false
	}
	var ut, st, rss float64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	fmt.Sscan(f[21], &rss)
	return (ut + st) * 10, rss * 4096 / (1 << 20), true
}
