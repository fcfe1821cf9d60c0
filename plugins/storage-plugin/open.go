package storageplugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/core/storage"
)

// Option configures Open.
type Option func(*options)

type options struct {
	args            []string
	env             []string
	logger          *slog.Logger
	callTimeout     time.Duration
	startTimeout    time.Duration
	versions        []int
	restartAttempts int
	restartBackoff  time.Duration
}

// WithArgs passes command-line arguments to the plugin binary (a bolt
// plugin's data file, for example).
func WithArgs(args ...string) Option { return func(o *options) { o.args = append(o.args, args...) } }

// WithEnv adds environment variables ("KEY=value") to the plugin process,
// which otherwise inherits the host's environment.
func WithEnv(env ...string) Option { return func(o *options) { o.env = append(o.env, env...) } }

// WithLogger sets the logger that receives go-plugin's logs, every line the
// plugin writes to stderr and the host's restarts (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCallTimeout bounds every call whose context has no deadline, so a hung
// plugin cannot hang its host forever (default: no bound beyond the context).
// A change feed's Follow is not bounded.
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// WithStartTimeout bounds how long the plugin may take to start and
// complete the handshake (default one minute, or the context's deadline if sooner).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithRestart sets how a host heals a plugin process that died: up to
// attempts starts, the first at once, then after backoff, doubling up to
// maxBackoff between attempts (default 5 attempts, 100ms, at most 5s).
// attempts 0 turns restarting off: the engine then stays unavailable.
func WithRestart(attempts int, backoff time.Duration) Option {
	return func(o *options) { o.restartAttempts, o.restartBackoff = attempts, backoff }
}

// WithProtocolVersions limits the protocol versions the host offers in the
// handshake (default every version this package speaks, 1 to
// ProtocolVersion): a way to check that a plugin still serves an older host.
func WithProtocolVersions(versions ...int) Option {
	return func(o *options) { o.versions = append([]int(nil), versions...) }
}

// maxBackoff bounds the wait between two restart attempts.
const maxBackoff = 5 * time.Second

// Open starts the plugin binary at path, negotiates the protocol and returns
// its engine. The engine behaves like the engine the plugin serves, errors
// included, and implements the same optional interfaces (storage.Indexer,
// Clearer, CollectionLooker, CollectionLister, Explainer, Repairer,
// ChangeFeed; a plugin of protocol version 1 can only declare Indexer). It
// also implements storage.Healther. Close closes that engine and ends the
// process. It is safe for concurrent use.
//
// If the process dies the engine heals: it starts the binary again and
// reopens the engine (WithRestart), logging each attempt. Calls made until
// then fail at once with an error wrapping ErrUnavailable (and so
// storage.ErrUnavailable): retry them later. If every attempt fails, the
// next call starts another round.
//
// A plugin that speaks no protocol version this host speaks fails with
// ErrIncompatible and a message naming both versions. An engine that fails
// to open fails Open with its own error (errors.Is(err, storage.ErrFormat)).
func Open(ctx context.Context, path string, opts ...Option) (storage.Engine, error) {
	o := options{logger: slog.Default(), startTimeout: time.Minute, restartAttempts: 5, restartBackoff: 100 * time.Millisecond}
	for v := 1; v <= ProtocolVersion; v++ {
		o.versions = append(o.versions, v)
	}
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	logger := o.logger.With("plugin", filepath.Base(abs))
	p, err := startProcess(ctx, abs, &o, logger)
	if err != nil {
		return nil, err
	}
	return newHostEngine(abs, o, logger, p), nil
}

var pluginVersionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// startError explains why a plugin did not start, with the end of what it
// wrote to stderr (a usage message, a panic).
func startError(path string, err error, stderr string, versions []int) error {
	if m := pluginVersionRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%w: %s speaks storage plugin protocol version %s; this host speaks version %s",
			ErrIncompatible, path, m[1], versionList(versions))
	}
	var exitErr *exec.Error
	if errors.As(err, &exitErr) {
		return fmt.Errorf("storageplugin: cannot run %s: %w", path, err)
	}
	if stderr = strings.TrimSpace(stderr); stderr != "" {
		first, _, _ := strings.Cut(err.Error(), "\n")
		return fmt.Errorf("%w: %s did not complete the handshake (%s); its stderr ends with:\n%s",
			ErrUnavailable, path, strings.TrimSuffix(strings.TrimSpace(first), ":"), stderr)
	}
	return fmt.Errorf("%w: starting %s: %v (is it a storage plugin built with storageplugin.Serve?)", ErrUnavailable, path, err)
}

// versionList prints versions as "1 or 2".
func versionList(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, " or ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lineLogger is a writer that logs each line written to it until closed.
func lineLogger(l *slog.Logger, stream string) io.WriteCloser {
	r, w := io.Pipe()
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.Info(sc.Text(), "stream", stream)
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	return w
}
