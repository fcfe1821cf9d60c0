// Package bench holds benchmarks that span modules: the node on each
// storage engine against raw baselines, and sync latency over websockets
// against a bare websocket round trip, each baseline measured in the same run.
//
//	cd bench && go test -run=^$ -bench=. -benchtime=2s
package bench
