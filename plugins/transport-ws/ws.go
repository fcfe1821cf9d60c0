// Package ws carries Ankurah's sync protocol over WebSockets
// (github.com/coder/websocket): Server is a plain http.Handler that durable
// nodes mount at /ws in any mux, and Dial connects an ephemeral node to it,
// reconnecting with jittered exponential backoff. The client also builds for
// GOOS=js GOARCH=wasm, where the page's own WebSocket carries the frames
// through syscall/js (conn_js.go), so the browser build links no Go HTTP
// or TLS stack.
//
// # Keepalive
//
// Outside the browser, each end pings its peer every 15 s and counts
// anything that arrives — a data frame, any part of a long message, a ping,
// a pong — as a sign of life, and so does every part of a long message of
// its own that the network accepts. A connection is closed (status 4000,
// reason "keepalive: …") only when no sign of life came for 45 s while this
// end was waiting on the peer: while a Recv or Send was in progress. Time
// this end spends elsewhere (processing what it read) never counts against
// the peer. Messages are written in 16 KiB fragments so that control frames
// (pings, pongs, closes) are never stuck behind a large message, and a ping
// received while a message is being written is not answered (the message
// itself is the answer). In the browser the WebSocket API hides control
// frames, so the keepalive is left to the server.
//
// # Close reasons
//
// Every close this package sends says why, as a WebSocket status and reason:
//
//	1000 normal closure    "connection closed by the client" / "… by the server"
//	1001 going away        "server shutting down" (Server.Close), or "gave up
//	                       waiting for a message: …" (Recv's context ended)
//	1003 unsupported data  "protocol: text message where binary frames are expected"
//	1009 message too big   "message too big: …"
//	1011 internal error    "send failed mid-message: …"
//	4000 (private)         "keepalive: nothing heard from the peer for …"
//
// In the browser a script may close a WebSocket only with 1000 or
// 3000–4999, so every close the browser's end sends is 1000 with one of the
// reasons above (or "client too slow: …" when more than one frame of the
// largest size and 4 MiB of received messages wait unread).
//
// Recv's error names the reason, whichever end closed: "closed by the peer:
// server shutting down (status 1001)" or "closed by us: keepalive: …".
package ws

import (
	"time"
	"unicode/utf8"
)

// StatusKeepaliveTimeout is the WebSocket close status (private range) a
// connection is closed with when nothing was heard from the peer for the
// keepalive timeout.
const StatusKeepaliveTimeout = 4000

// epoch anchors the monotonic timestamps of liveness.
var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) }

// truncateReason fits a reason into a close frame (123 bytes) without
// splitting a UTF-8 sequence.
func truncateReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
