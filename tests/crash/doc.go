// Package crash is the crash-loop suite: proof, on every run, that a server
// killed at any moment loses no acknowledged commit.
//
// Each test builds cmd/ankurah, runs `ankurah serve` as a child process on
// one storage engine (a bolt file in a temporary directory, or a database of
// its own on a throwaway PostgreSQL cluster from
// plugins/storage-postgres/pgtest) and puts it under a continuous commit
// load from ephemeral client nodes connected with ws.Dial. At a random
// moment it kills the server with SIGKILL and opens the store directly: it
// must open cleanly and still hold every commit it held at the previous
// kill, each as one entity; every tenth cycle and at the end it must also
// hold no undecodable rows (the load pauses while the store is read). It
// leaves the server down for a while — the clients keep committing; those
// commits are acknowledged locally and kept in their offline outbox — and
// starts the server again on the same store and port, which must come back
// as the same system. Once every client has reconnected, every commit
// acknowledged so far (Commit returned nil on the client, online or
// offline) must be readable through a fresh client within a generous
// deadline. After the last cycle the load stops, the outboxes drain, the
// server is killed once more and the store is read directly: every
// acknowledged commit is in it, once.
//
// Each commit creates one entity {w: writer, seq: attempt number}, so a
// commit is present exactly when its entity is. Some cycles kill the server
// soon after it starts, while the clients are still reconnecting and
// sending their outboxes; the others kill it after the drain check, under
// load.
//
// Randomness (uptime, downtime, early kills, client pacing) comes from one
// seed, printed at the start of each test; CRASH_SEED=N replays a schedule
// (the interleavings of goroutines and processes still vary).
// CRASH_CYCLES=N sets the cycles per engine (10 by default, which keeps
// both engines well under two minutes on two cores). All traffic goes to
// 127.0.0.1; every child process is killed and waited for by its PID.
//
// Run it from this directory:
//
//	go test -v ./...                          # CI size
//	CRASH_CYCLES=100 go test -v -timeout 30m ./...   # full size (make crash)
//	CRASH_SEED=42 go test -v -run TestCrashLoop/bolt ./...
//
// Without PostgreSQL binaries the PostgreSQL case skips, except under
// CI=true, where it fails.
package crash
