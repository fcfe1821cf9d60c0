package sim

import (
	"bytes"
	"runtime"
	"time"
)

// Quiescence: the scheduler waits, after every step, until the nodes have
// nothing left to do — every delivered frame received, and no goroutine of
// the process running, runnable, in a system call or sleeping (a sleeping
// goroutine is a backoff about to wake). Goroutines blocked on a channel, a
// lock, a condition or a select are waiting for something the scheduler
// decides (a frame, an operation), so the state is stable: the next step
// starts from the same place on every replay. This is read off the
// runtime's goroutine dump, the one view of "nothing runs" Go offers.

// busyStates are the goroutine states that mean work is still under way.
var busyStates = [][]byte{
	[]byte("[running"), []byte("[runnable"), []byte("[syscall"), []byte("[sleep"), []byte("[preempted"), []byte("[GC assist"),
}

type quiet struct {
	buf []byte
}

// busy counts the goroutines (other than the caller) doing work.
func (q *quiet) busy() int {
	if q.buf == nil {
		q.buf = make([]byte, 1<<20)
	}
	var n int
	for {
		n = runtime.Stack(q.buf, true)
		if n < len(q.buf) {
			break
		}
		q.buf = make([]byte, 2*len(q.buf))
	}
	dump := q.buf[:n]
	count := 0
	first := true
	for len(dump) > 0 {
		line := dump
		if i := bytes.IndexByte(dump, '\n'); i >= 0 {
			line, dump = dump[:i], dump[i+1:]
		} else {
			dump = nil
		}
		if !bytes.HasPrefix(line, []byte("goroutine ")) {
			continue
		}
		if first { // the caller itself
			first = false
			continue
		}
		for _, s := range busyStates {
			if bytes.Contains(line, s) {
				count++
				break
			}
		}
	}
	return count
}

// settle waits until the network and the nodes are quiet (true), or max has
// passed (false: something kept running; the step goes on regardless and
// the replay may diverge there).
func (w *World) settle(max time.Duration) bool {
	deadline := time.Now().Add(max)
	stable := 0
	var last uint64
	spins := 0
	for {
		for i := 0; i < 4; i++ {
			runtime.Gosched()
		}
		idle, act := w.net.idle()
		if idle && w.q.busy() == 0 && act == last {
			stable++
			if stable >= 2 {
				return true
			}
		} else {
			stable = 0
		}
		last = act
		if time.Now().After(deadline) {
			return false
		}
		spins++
		if spins > 8 {
			time.Sleep(50 * time.Microsecond)
		}
	}
}
