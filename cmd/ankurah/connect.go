package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// Why a connection to a server failed, tested with errors.Is. The CLI
// gives up at the first failure and says which of these it was.
var (
	// ErrBadServerURL: --server is not a ws:// or wss:// URL with a host.
	ErrBadServerURL = errors.New("bad --server URL")
	// ErrRefused: nothing accepts connections at the server's address.
	ErrRefused = errors.New("connection refused")
	// ErrUnknownHost: the server's host name does not resolve.
	ErrUnknownHost = errors.New("unknown host")
	// ErrTLS: the TLS handshake failed (certificate, or TLS against a plain server).
	ErrTLS = errors.New("TLS handshake failed")
	// ErrNoEndpoint: the server answered HTTP but not the sync protocol at that path.
	ErrNoEndpoint = errors.New("no Ankurah sync endpoint")
	// ErrCredentials: the server refused the credentials; errors.Is also
	// matches it with policy.ErrUnauthenticated.
	ErrCredentials error = credentialsError{}
	// ErrNoAnswer: the server did not answer in time.
	ErrNoAnswer = errors.New("no answer")
)

type credentialsError struct{}

func (credentialsError) Error() string        { return "credentials refused" }
func (credentialsError) Is(target error) bool { return target == policy.ErrUnauthenticated }

// dialTimeout bounds connecting to a server.
const dialTimeout = 10 * time.Second

// connect starts an ephemeral node connected to a server, or says at once
// why it cannot: the first failed attempt ends it (ws.Dial alone would keep
// retrying until its context ends).
//
// server may list several servers, comma-separated (servers sharing one
// store): the client fails over among them, and connect gives up only when
// each has failed once.
func connect(ctx context.Context, server, token string) (*core.Node, *ws.Client, error) {
	servers := strings.Split(server, ",")
	for i := range servers {
		servers[i] = strings.TrimSpace(servers[i])
		if err := checkServerURL(servers[i]); err != nil {
			return nil, nil, err
		}
	}
	server = servers[0]
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		return nil, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	first := &firstFailure{next: slog.Default().Handler(), cancel: cancel, allowed: len(servers)}
	c, err := ws.Dial(dctx, server, node, ws.WithClientLogger(slog.New(first)),
		ws.WithCredentials(func() []byte { return []byte(token) }), ws.WithServers(servers[1:]...))
	if err == nil {
		first.connected()
		return node, c, nil
	}
	if c != nil {
		c.Close()
	}
	node.Close()
	if f := first.err(); f != nil && !errors.Is(err, policy.ErrUnauthenticated) && !errors.Is(err, transport.ErrVersion) {
		err = f
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	return nil, nil, explainDial(server, err)
}

// firstFailure is the client's log handler while connect waits: it keeps
// the first failed attempt's error and ends the wait; once connected it
// passes records on (reconnections of a --watch are logged as usual).
type firstFailure struct {
	next   slog.Handler
	cancel context.CancelFunc

	mu      sync.Mutex
	first   error
	up      bool
	allowed int // failures before giving up (one per server)
	failed  int
}

func (h *firstFailure) connected() {
	h.mu.Lock()
	h.up = true
	h.mu.Unlock()
}

func (h *firstFailure) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first
}

// Enabled implements slog.Handler.
func (h *firstFailure) Enabled(ctx context.Context, l slog.Level) bool { return true }

// Handle implements slog.Handler.
func (h *firstFailure) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	up := h.up
	if !up && r.Level >= slog.LevelWarn {
		var failure error
		r.Attrs(func(a slog.Attr) bool {
			if e, ok := a.Value.Any().(error); ok && a.Key == "err" {
				failure = e
				return false
			}
			return true
		})
		if failure != nil {
			if h.first == nil {
				h.first = failure
			}
			if h.failed++; h.failed >= max(1, h.allowed) {
				h.cancel()
			}
		}
	}
	h.mu.Unlock()
	if up && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

// WithAttrs implements slog.Handler.
func (h *firstFailure) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup implements slog.Handler.
func (h *firstFailure) WithGroup(string) slog.Handler { return h }

// checkServerURL refuses what cannot name a server's sync endpoint.
func checkServerURL(server string) error {
	u, err := neturl.Parse(server)
	if err != nil {
		return fmt.Errorf("%w %q: want ws://HOST:PORT/ws or wss://HOST/ws", ErrBadServerURL, server)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http", "https":
		return fmt.Errorf("%w %q: the sync protocol is a WebSocket: write %s://%s%s", ErrBadServerURL, server,
			map[string]string{"http": "ws", "https": "wss"}[u.Scheme], u.Host, u.Path)
	default:
		return fmt.Errorf("%w %q: want ws://HOST:PORT/ws or wss://HOST/ws", ErrBadServerURL, server)
	}
	if u.Host == "" {
		return fmt.Errorf("%w %q: no host (want ws://HOST:PORT/ws)", ErrBadServerURL, server)
	}
	return nil
}

var statusRe = regexp.MustCompile(`status code 101 but got (\d+)`)

// explainDial names the cause of a failed connection.
func explainDial(server string, err error) error {
	host := server
	if u, perr := neturl.Parse(server); perr == nil {
		host = u.Host
	}
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.Is(err, policy.ErrUnauthenticated):
		reason := err.Error()
		if i := strings.LastIndex(reason, policy.ErrUnauthenticated.Error()+": "); i >= 0 {
			reason = reason[i+len(policy.ErrUnauthenticated.Error())+2:]
		}
		return fmt.Errorf("%w by %s: %s (give a valid --token; ankurah token mints one for a rules file's HS256 key)",
			ErrCredentials, server, reason)
	case errors.Is(err, transport.ErrVersion):
		return fmt.Errorf("%s speaks another protocol version: %s", server, dedupe(err.Error()))
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w at %s: is ankurah serve running there? (--server %s)", ErrRefused, host, server)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%w %q (--server %s): %v", ErrUnknownHost, dnsErr.Name, server, dnsErr.Err)
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return fmt.Errorf("%w with %s: the server's certificate is not trusted here: %v", ErrTLS, host, err)
	case errors.As(err, &recordErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%w with %s: the server does not speak TLS: use ws:// instead of wss://", ErrTLS, host)
	}
	if m := statusRe.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%w at %s: the server answered HTTP %s (ankurah serve listens at /ws)", ErrNoEndpoint, server, m[1])
	}
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return fmt.Errorf("%w from %s within %v", ErrNoAnswer, server, dialTimeout)
	}
	return fmt.Errorf("connect to %s: %s", server, dedupe(err.Error()))
}

// dedupe drops a run of ": "-separated parts that repeats the run just
// before it ("policy: unauthenticated: policy: unauthenticated: x" reads
// "policy: unauthenticated: x"), as errors wrapped by both ends of a
// connection read.
func dedupe(msg string) string {
	parts := strings.Split(msg, ": ")
	for changed := true; changed; {
		changed = false
		for n := 1; n <= len(parts)/2 && !changed; n++ {
			for i := 0; i+2*n <= len(parts); i++ {
				if strings.Join(parts[i:i+n], ": ") == strings.Join(parts[i+n:i+2*n], ": ") {
					parts = append(parts[:i+n], parts[i+2*n:]...)
					changed = true
					break
				}
			}
		}
	}
	return strings.Join(parts, ": ")
}
