//go:build !js

package ws

import (
	"log/slog"
	"net/http"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core"
)

// Server accepts WebSocket connections from other nodes and serves them
// with a durable node. Mount it at /ws in any mux.
type Server struct {
	node    *core.Node
	origins []string
	log     *slog.Logger
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
	s := &Server{node: node, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ServeHTTP upgrades the request and serves the connection until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.origins})
	if err != nil {
		s.log.WarnContext(r.Context(), "websocket upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	err = s.node.Accept(r.Context(), newConn(c))
	s.log.DebugContext(r.Context(), "connection ended", "remote", r.RemoteAddr, "err", err)
}
