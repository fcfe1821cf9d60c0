//go:build !js

package ws

import "github.com/coder/websocket"

// dialOptions feeds the connection's pings and pongs to live.
func dialOptions(live *liveness) *websocket.DialOptions {
	return &websocket.DialOptions{OnPingReceived: live.onPing, OnPongReceived: live.onPong}
}

// clientKeepalive is the keepalive of Dial's connections.
var clientKeepalive = defaultKeepalive
