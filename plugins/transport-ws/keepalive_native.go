//go:build !js

package ws

import (
	"context"
	"time"
)

// defaultKeepalive is the keepalive of Server and Dial outside the browser:
// three unanswered pings before the connection is given up.
var defaultKeepalive = keepaliveConfig{interval: 15 * time.Second, timeout: 45 * time.Second}

// onPing is the websocket's OnPingReceived: a ping is a sign of life. It is
// answered with a pong unless a message is being written: the pong would
// wait behind it, and a pong that cannot be written in 5 s fails the read.
func (l *liveness) onPing(context.Context, []byte) bool {
	l.touch()
	return l.writing.Load() == 0
}

// onPong is the websocket's OnPongReceived.
func (l *liveness) onPong(context.Context, []byte) { l.touch() }
