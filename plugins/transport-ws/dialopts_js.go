//go:build js

package ws

import "github.com/coder/websocket"

// dialOptions: the browser's WebSocket answers pings itself and shows none
// of them, nor pongs, to the page.
func dialOptions(*liveness) *websocket.DialOptions { return nil }

// clientKeepalive is off in the browser: it cannot ping nor see pongs, so
// the server's keepalive (whose pings the browser answers) watches the
// connection.
var clientKeepalive keepaliveConfig
