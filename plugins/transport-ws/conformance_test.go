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

// TestConformance runs the transport suite over real websockets on 127.0.0.1.
func TestConformance(t *testing.T) {
	accepted := make(chan transport.Connection, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- newConn(c) // the hijacked connection outlives the handler
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	transporttest.Run(t, func(ctx context.Context, t *testing.T) (transport.Connection, transport.Connection) {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return newConn(c), <-accepted
	})
}
