//go:build !js

package ws

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core"
)

// Server accepts WebSocket connections from other nodes and serves them
// with a durable node. Mount it at /ws in any mux.
type Server struct {
	node      *core.Node
	origins   []string
	log       *slog.Logger
	keepalive keepaliveConfig

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithAllowedOrigins sets the origin patterns (path.Match syntax, e.g.
// "app.example.com" or "*.example.com") browsers may connect from. Without
// it, only same-origin browser connections are accepted; non-browser
// clients send no Origin and are always accepted.
func WithAllowedOrigins(patterns ...string) ServerOption {
	return func(s *Server) { s.origins = patterns }
}

// WithServerLogger sets the server's logger (slog.Default by default).
func WithServerLogger(l *slog.Logger) ServerOption { return func(s *Server) { s.log = l } }

// NewServer returns an http.Handler serving node over WebSockets.
func NewServer(node *core.Node, opts ...ServerOption) *Server {
	s := &Server{node: node, log: slog.Default(), keepalive: defaultKeepalive, conns: map[*conn]struct{}{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ServeHTTP upgrades the request and serves the connection until it ends.
// After Close, a connection is accepted only to be closed at once with
// status 1001 "server shutting down", so the client learns why.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	live := newLiveness(s.keepalive.now())
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.origins, OnPingReceived: live.onPing, OnPongReceived: live.onPong})
	if err != nil {
		s.log.WarnContext(r.Context(), "websocket upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	cn := newConn(c, live, s.keepalive, "server")
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.conns[cn] = struct{}{}
	}
	s.mu.Unlock()
	if closed {
		cn.closeWith(websocket.StatusGoingAway, reasonShutdown)
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.conns, cn)
		s.mu.Unlock()
	}()
	err = s.node.Accept(r.Context(), cn)
	s.log.DebugContext(r.Context(), "connection ended", "remote", r.RemoteAddr, "err", err)
}

const reasonShutdown = "server shutting down"

// Close closes every connection the server holds with status 1001 "server
// shutting down" and closes those that arrive later the same way. Call it
// before closing the node (http.Server.Shutdown does not reach hijacked
// WebSocket connections; srv.RegisterOnShutdown(func() { wsServer.Close() })
// ties the two).
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.closeWith(websocket.StatusGoingAway, reasonShutdown)
		}()
	}
	wg.Wait()
	return nil
}
