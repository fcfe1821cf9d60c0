// Package adversarial is the adversarial-peer suite: end-to-end tests of the
// limits that protect everyone ("Limits that protect everyone").
//
// Each test starts a real server in-process, as `ankurah serve` does: a
// durable core.Node on the embedded bolt engine in a temporary directory,
// the rules policy agent loaded from examples/todos/rules.yaml (with a test
// secret for HS256 tokens and a fake clock), and the websocket server on an
// httptest server at 127.0.0.1:0. Well-behaved users ("alice", "bob") are
// ephemeral core nodes connected with ws.Dial; abusers are real ephemeral
// nodes driven through the public API, or raw websocket connections sending
// hand-crafted frames (transport.Message values encoded with
// transport.Encode, hand-built CBOR, or plain garbage).
//
// Every case asserts three things:
//
//  1. the abuser gets a clear refusal — an error or fault naming what was
//     wrong, tested with errors.Is on the exported sentinels or on the wire
//     code (transport.CodeLimit, CodeBusy, CodeInvalid, ...) — or is
//     disconnected with a reason;
//  2. the server keeps serving others: afterwards a well-behaved client can
//     commit and fetch, a new subscription works, and a live subscription
//     opened before the abuse still receives updates;
//  3. stored data is unchanged: every collection's states and their events,
//     read from the durable node's engine, are the same before and after.
//
// All traffic goes to 127.0.0.1, counts and sizes are bounded, and nothing
// asserts on timing: waits only have generous deadlines (20 s) so that a
// hang fails the test instead of stalling it.
//
// Run it from this directory:
//
//	go test ./...                 # the whole suite, well under two minutes on 2 cores
//	go test -run TestWire -v      # one group
//	ANKURAH_TEST_LOG=1 go test -run TestFinding_Expiry -v   # with the server's logs
//
// It also runs with GOWORK=off (the go.mod replaces the repository's modules).
package adversarial
