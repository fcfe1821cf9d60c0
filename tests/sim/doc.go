// Package sim is the deterministic simulation of ankurah-go: several nodes
// in one process — durable servers on the memory engine or on bolt (in a
// temporary directory), sometimes two servers sharing one memory store, and
// ephemeral clients — on a virtual network (Network) whose every delivery
// one seeded scheduler decides.
//
// One seed fixes the topology, the workload (creates, edits, deletes, text
// insertions, transactions over several entities, live queries opened,
// re-pointed and closed, fetches, writes the policy denies), the faults
// (frames reordered across links and delayed, commit requests and
// subscription updates duplicated, frames dropped with their link, clients
// offline for a while, every client partitioned from the servers, a node
// closed and restarted on the storage it had, the server restarted on an
// empty store), the nodes' clock (WithClock, advanced by the scheduler) and
// their randomness (WithRandom, a ChaCha8 stream per node and incarnation).
//
// Run drives the schedule one step at a time and waits after each step
// until the nodes are quiet (quiet.go), heals the network, delivers
// everything, and then checks the invariants listed in check.go.
//
// What is deterministic: every decision of the scheduler, the order in
// which frames arrive, the clock and random bytes each node sees, so entity
// ids and every event repeat on a replay. What is not: the interleaving of
// a node's own goroutines within a step (two frames delivered in one step
// to two connections of a server are served in whichever order its
// goroutines run), a step whose nodes did not go quiet within the bound
// (Report.Unsettled counts them), and the text datatype's Yjs client ids,
// which it draws from crypto/rand. A replay of a failing seed therefore
// follows the same schedule and usually, not always, the same execution.
package sim
