//go:build !js

package ws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/conformance/transporttest"
	"github.com/ankurah/ankurah-go/core/transport"
)

// TestConformance runs the transport suite over real websockets on
// 127.0.0.1, with the default keepalive running on both ends.
func TestConformance(t *testing.T) {
	accepted := make(chan transport.Connection, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live := newLiveness(monotonic)
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OnPingReceived: live.onPing, OnPongReceived: live.onPong})
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- newConn(c, live, defaultKeepalive, "server") // the hijacked connection outlives the handler
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	transporttest.Run(t, func(ctx context.Context, t *testing.T) (transport.Connection, transport.Connection) {
		live := newLiveness(monotonic)
		c, _, err := websocket.Dial(ctx, url, dialOptions(live))
		if err != nil {
			t.Fatal(err)
		}
		return newConn(c, live, defaultKeepalive, "client"), <-accepted
	})
}
