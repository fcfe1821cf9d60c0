//go:build js

package ws

// clientKeepalive is off in the browser: it cannot ping nor see pongs, so
// the server's keepalive (whose pings the browser answers) watches the
// connection.
var clientKeepalive keepaliveConfig
