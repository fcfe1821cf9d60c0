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
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
)

// Option configures Open.
type Option func(*options)

type options struct {
	args         []string
	env          []string
	logger       *slog.Logger
	callTimeout  time.Duration
	startTimeout time.Duration
}

// WithArgs passes command-line arguments to the plugin binary (a bolt
// plugin's data file, for example).
func WithArgs(args ...string) Option { return func(o *options) { o.args = append(o.args, args...) } }

// WithEnv adds environment variables ("KEY=value") to the plugin process,
// which otherwise inherits the host's environment.
func WithEnv(env ...string) Option { return func(o *options) { o.env = append(o.env, env...) } }

// WithLogger sets the logger that receives go-plugin's logs and every line
// the plugin writes to stderr (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCallTimeout bounds every call whose context has no deadline, so a hung
// plugin cannot hang its host forever (default: no bound beyond the context).
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// WithStartTimeout bounds how long the plugin may take to start and
// complete the handshake (default one minute, or the context's deadline if sooner).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// Open starts the plugin binary at path, negotiates the protocol and returns
// its engine. The engine behaves like the engine the plugin serves, errors
// included; Close closes that engine and ends the process. If the process
// dies, calls fail with ErrUnavailable and the engine must be reopened,
// which starts a fresh process.
//
// A plugin that speaks no protocol version this host speaks fails with
// ErrIncompatible and a message naming both versions.
func Open(ctx context.Context, path string, opts ...Option) (storage.Engine, error) {
	o := options{logger: slog.Default(), startTimeout: time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < o.startTimeout {
		o.startTimeout = max(time.Until(dl), time.Millisecond)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("storageplugin: plugin path %q: %w", path, err)
	}
	name := filepath.Base(abs)
	logger := o.logger.With("plugin", name)
	cmd := exec.Command(abs, o.args...)
	cmd.Env = append(cmd.Environ(), o.env...)
	stdout, stderr := lineLogger(logger, "stdout"), lineLogger(logger, "stderr")
	tail := &tailBuffer{max: 2048}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {pluginName: &grpcPlugin{}},
		},
		Cmd:              cmd,
		Stderr:           tail,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLogAdapter(o.logger),
		StartTimeout:     o.startTimeout,
		SyncStdout:       stdout,
		SyncStderr:       stderr,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))},
	})

	type started struct {
		rpc plugin.ClientProtocol
		err error
	}
	done := make(chan started, 1)
	go func() {
		rpc, err := client.Client()
		done <- started{rpc, err}
	}()
	kill := func() {
		client.Kill()
		_ = stdout.Close()
		_ = stderr.Close()
	}
	var st started
	select {
	case st = <-done:
	case <-ctx.Done():
		kill()
		<-done
		return nil, fmt.Errorf("storageplugin: starting %s: %w", abs, context.Cause(ctx))
	}
	if st.err != nil {
		kill()
		return nil, startError(abs, st.err, tail.String())
	}
	raw, err := st.rpc.Dispense(pluginName)
	if err != nil {
		kill()
		return nil, fmt.Errorf("%w: %s: %v", ErrProtocol, abs, err)
	}
	e := &hostEngine{
		path:        abs,
		client:      client,
		kill:        kill,
		rpc:         raw.(storagev1.StorageClient),
		logger:      logger,
		callTimeout: o.callTimeout,
	}
	cctx, cancel := e.callCtx(ctx)
	desc, err := e.rpc.Describe(cctx, &storagev1.DescribeRequest{})
	cancel()
	if err != nil {
		kill()
		return nil, e.fromStatus(cctx, "Describe", err)
	}
	e.candidatesOnly = desc.CandidatesOnly
	logger.Debug("storage plugin started", "engine", desc.Engine, "protocol", client.NegotiatedVersion(),
		"candidates_only", desc.CandidatesOnly, "indexer", desc.Indexer)
	if desc.Indexer {
		return &hostIndexer{e}, nil
	}
	return e, nil
}

var pluginVersionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// startError explains why a plugin did not start, with the end of what it
// wrote to stderr (a usage message, a panic).
func startError(path string, err error, stderr string) error {
	if m := pluginVersionRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%w: %s speaks storage plugin protocol version %s; this host speaks version %d",
			ErrIncompatible, path, m[1], ProtocolVersion)
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
