package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkBare_ProcessRoundTrip: the floor under a cross-process
// write→notify figure such as BQ1's. A 300-byte binary websocket message
// goes from this process to an echo server in a second process (this test
// binary, re-run as TestEchoServer) and back: two hops over loopback and two
// processes woken, as a write reaches a subscriber through a server. gap=0
// sends the next message at once; gap=20ms sends one every 20 ms, as BQ1
// does, so that both processes (and the machine's cores) are idle when each
// message arrives.
func BenchmarkBare_ProcessRoundTrip(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ANKURAH_ECHO=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "echo="); ok {
				addr <- a
			}
		}
	}()
	var url string
	select {
	case url = <-addr:
	case <-time.After(20 * time.Second):
		b.Fatal("echo process printed no address within 20 s")
	}
	for _, gap := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("gap=%s", gap), func(b *testing.B) {
			ctx := context.Background()
			c, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseNow()
			msg := make([]byte, 300)
			var lat []time.Duration
			for b.Loop() {
				if gap > 0 {
					time.Sleep(gap)
				}
				start := time.Now()
				if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Read(ctx); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			report(b, lat)
		})
	}
}

// TestEchoServer is the echo process of BenchmarkBare_ProcessRoundTrip;
// without its environment it does nothing. It serves until its parent
// ends it.
func TestEchoServer(t *testing.T) {
	if os.Getenv("ANKURAH_ECHO") == "" {
		t.Skip("the echo process of BenchmarkBare_ProcessRoundTrip")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("echo=ws://%s/\n", ln.Addr())
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}))
}

// BenchmarkBare_HandOff: the cost, on this machine, of one goroutine handing
// work to another that waits for it — as a connection's reader hands a
// notification to the connection's writer, or a client's reader a
// ChangeSet to a live query's delivery goroutine. The waiter is parked on a
// sync.Cond; the hand-off signals it and then parks itself (as a reader
// goes back to its socket). Reported, in µs: the signal's own time
// (signal-p50, readying a goroutine while another core is idle wakes a
// thread there) and the time until the waiter runs (woken-p50). gap=0
// hands off again at once (the waiter may not have parked yet, so some
// samples wake nothing); gap=10ms hands off once every 10 ms, as BQ1's
// writes arrive, so the cores are idle before each — its time per
// iteration includes the sleep, as BenchmarkBare_ProcessRoundTrip's does
// (run it with a count: make bench's 200x).
func BenchmarkBare_HandOff(b *testing.B) {
	for _, gap := range []time.Duration{0, 10 * time.Millisecond} {
		b.Run(fmt.Sprintf("gap=%s", gap), func(b *testing.B) {
			var mu sync.Mutex
			cond := sync.NewCond(&mu)
			ready, stop := false, false
			var woke time.Time
			back := make(chan struct{})
			go func() {
				defer close(back)
				for {
					mu.Lock()
					for !ready && !stop {
						cond.Wait()
					}
					if stop {
						mu.Unlock()
						return
					}
					ready = false
					woke = time.Now()
					mu.Unlock()
					back <- struct{}{}
				}
			}()
			var signal, woken []time.Duration
			for b.Loop() {
				if gap > 0 {
					time.Sleep(gap)
				}
				t0 := time.Now()
				mu.Lock()
				ready = true
				cond.Signal()
				mu.Unlock()
				t1 := time.Now()
				<-back
				mu.Lock()
				w := woke
				mu.Unlock()
				signal = append(signal, t1.Sub(t0))
				woken = append(woken, w.Sub(t0))
			}
			mu.Lock()
			stop = true
			cond.Signal()
			mu.Unlock()
			<-back
			reportAs(b, "signal", signal)
			reportAs(b, "woken", woken)
		})
	}
}
