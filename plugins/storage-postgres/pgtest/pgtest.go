// Package pgtest gives tests a PostgreSQL server of their own: a throwaway
// cluster made with Debian's binaries (/usr/lib/postgresql/*/bin) in a
// per-process data directory, listening on 127.0.0.1 at a free port (never
// 5432) and on a private unix socket, stopped and removed when the tests end.
// It installs nothing.
//
// Wire it into a package's tests from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and get the server's URL in a test with pgtest.URL(t). PG_TEST_URL selects
// an existing server instead. When the binaries are missing, tests that need
// the server skip, except under CI=true, where Main fails with a message
// saying what to install.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNoServer is returned by Start when no PostgreSQL binaries are found.
var ErrNoServer = errors.New("pgtest: no PostgreSQL binaries (apt-get install -y postgresql, or set PG_TEST_URL)")

// Server is a running throwaway PostgreSQL cluster.
type Server struct {
	// URL connects to the "postgres" database as the "postgres" superuser.
	URL string

	bin     string // directory of initdb, pg_ctl
	dir     string // temporary directory holding data, socket and log
	asUser  string // OS user the cluster runs as ("" for the current user)
	stopped bool
}

var (
	mu      sync.Mutex
	mainURL string
	mainErr error
)

// Main starts a server (or takes PG_TEST_URL), runs the tests and stops the
// server. It returns the exit code for os.Exit. Under CI=true a server that
// cannot be started is a failure (exit code 1) with a message saying why.
func Main(m *testing.M) int {
	if u := os.Getenv("PG_TEST_URL"); u != "" {
		setMain(u, nil)
		return m.Run()
	}
	srv, err := Start(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "pgtest: CI=true and no PostgreSQL server could be started: %v\n", err)
			return 1
		}
		setMain("", err)
		return m.Run()
	}
	setMain(srv.URL, nil)
	// Stop the server when interrupted, too; what a killed run leaves
	// behind is swept by the next Start.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sig; ok {
			_ = srv.Stop()
			os.Exit(1)
		}
	}()
	code := m.Run()
	signal.Stop(sig)
	close(sig)
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
	return code
}

func setMain(u string, err error) {
	mu.Lock()
	defer mu.Unlock()
	mainURL, mainErr = u, err
}

// URL returns the URL of the server Main started. It skips the test when no
// server could be started locally, and fails it when Main was not called.
func URL(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	u, err := mainURL, mainErr
	mu.Unlock()
	switch {
	case u != "":
		return u
	case err != nil:
		tb.Skipf("no PostgreSQL: %v", err)
	default:
		tb.Fatalf("pgtest: call os.Exit(pgtest.Main(m)) from TestMain")
	}
	return ""
}

// BinDir finds the directory of PostgreSQL's server binaries: $PG_BINDIR,
// else the newest /usr/lib/postgresql/*/bin, else the directory of initdb on
// PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoServer
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start makes and starts a new cluster. As root it runs the cluster as the
// postgres user (PostgreSQL refuses to run as root); otherwise as the
// current user.
func Start(ctx context.Context) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		s.asUser = "postgres"
	}
	s.sweep(ctx)
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s.dir = dir
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if s.asUser != "" {
		if err := chownTo(dir, s.asUser); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	// A free port can be taken by someone else before the server binds it:
	// try a few.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
		out, err := s.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return s, nil
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
}

// sweep stops and removes the clusters of test processes that died
// without stopping theirs (killed by a timeout or a signal).
func (s *Server) sweep(ctx context.Context) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue // not ours to judge (or still being made)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		_, _ = s.run(ctx, "pg_ctl", "-D", filepath.Join(d, "data"), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(d)
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}

// Stop stops the cluster and removes its directory.
func (s *Server) Stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	rmErr := os.RemoveAll(s.dir)
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return rmErr
}

// run runs a PostgreSQL binary, as s.asUser when set.
func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = s.dir
	if cmd.Dir == "" {
		cmd.Dir = os.TempDir()
	}
	return cmd.CombinedOutput()
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("pgtest: running as root needs the %q user of the postgresql package: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 5432 {
			return port, nil
		}
	}
}

// SchemaName turns a test name into a schema name unique to this process,
// so tests sharing one server never see each other's tables.
func SchemaName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	mu.Lock()
	seq++
	n := seq
	mu.Unlock()
	return fmt.Sprintf("t%d_%d_%s", os.Getpid(), n, s)
}

var seq int
