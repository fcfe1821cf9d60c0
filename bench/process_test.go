package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// BenchmarkServe_ThroughputProcess: commits/s through a real `ankurah serve`
// process on memory or bolt, with 1, 8 and 48 websocket clients — each
// committing to its own entity as fast as the server acknowledges — in a
// second process (this test binary, re-run as TestThroughputClients). The
// server binary is built from ../cmd/ankurah; set ANKURAH_BASELINE_BIN to
// another build of it (say, an older commit's) to measure it beside this one
// in the same run:
//
//	git worktree add /tmp/base <rev> && (cd /tmp/base/cmd/ankurah && go build -o /tmp/ankurah-base .)
//	cd bench && ANKURAH_BASELINE_BIN=/tmp/ankurah-base go test -run='^$' -bench=Serve_ThroughputProcess -benchtime=6000x .
func BenchmarkServe_ThroughputProcess(b *testing.B) {
	bins := []struct{ name, path string }{{"this", buildServer(b)}}
	if base := os.Getenv("ANKURAH_BASELINE_BIN"); base != "" {
		bins = append([]struct{ name, path string }{{"baseline", base}}, bins...)
	}
	for _, eng := range []string{"memory", "bolt"} {
		for _, clients := range []int{1, 8, 48} {
			for _, bin := range bins {
				b.Run(fmt.Sprintf("engine=%s/clients=%d/server=%s", eng, clients, bin.name), func(b *testing.B) {
					url := startServer(b, bin.path, eng)
					per := max(1, b.N/clients)
					cmd := exec.Command(os.Args[0], "-test.run=^TestThroughputClients$", "-test.count=1")
					cmd.Env = append(os.Environ(), "ANKURAH_TP_URL="+url, "ANKURAH_TP_CLIENTS="+strconv.Itoa(clients), "ANKURAH_TP_COMMITS="+strconv.Itoa(per))
					b.ResetTimer()
					out, err := cmd.CombinedOutput()
					b.StopTimer()
					if err != nil {
						b.Fatalf("client process: %v\n%s", err, out)
					}
					m := regexp.MustCompile(`commits/s=([0-9.]+)`).FindSubmatch(out)
					if m == nil {
						b.Fatalf("client process printed no rate:\n%s", out)
					}
					rate, _ := strconv.ParseFloat(string(m[1]), 64)
					b.ReportMetric(rate, "commits/s")
				})
			}
		}
	}
}

// buildServer builds cmd/ankurah once per run.
var buildServer = func() func(b *testing.B) string {
	var once sync.Once
	var path string
	var err error
	var out []byte
	return func(b *testing.B) string {
		once.Do(func() {
			dir, e := os.MkdirTemp("", "ankurah-bench-")
			if e != nil {
				err = e
				return
			}
			path = filepath.Join(dir, "ankurah")
			cmd := exec.Command("go", "build", "-o", path, ".")
			cmd.Dir = filepath.Join("..", "cmd", "ankurah")
			out, err = cmd.CombinedOutput()
		})
		if err != nil {
			b.Fatalf("go build cmd/ankurah: %v\n%s", err, out)
		}
		return path
	}
}()

// startServer runs `ankurah serve` on a free loopback port and returns its
// websocket URL; the process is ended (by its PID) when b finishes.
func startServer(b *testing.B, bin, eng string) string {
	storage := "memory://"
	if eng == "bolt" {
		storage = "bolt://" + filepath.Join(b.TempDir(), "s.db")
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--storage", storage)
	stderr, err := cmd.StderrPipe()
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
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`ws=(ws://[^ ]+)`)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	select {
	case url := <-found:
		return url
	case <-time.After(30 * time.Second):
		b.Fatal("ankurah serve printed no websocket URL within 30 s")
		return ""
	}
}

// TestThroughputClients is the client side of
// BenchmarkServe_ThroughputProcess, run in its own process; without its
// environment it does nothing.
func TestThroughputClients(t *testing.T) {
	url := os.Getenv("ANKURAH_TP_URL")
	if url == "" {
		t.Skip("the client process of BenchmarkServe_ThroughputProcess")
	}
	clients, _ := strconv.Atoi(os.Getenv("ANKURAH_TP_CLIENTS"))
	per, _ := strconv.Atoi(os.Getenv("ANKURAH_TP_COMMITS"))
	ctx := context.Background()
	ws := make([]counterWriter, clients)
	for i := range ws {
		ws[i] = newCounterWriter(t, ctx, url)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(ctx, per); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fmt.Println(strings.TrimSpace(fmt.Sprintf("commits/s=%.1f", float64(per*clients)/el.Seconds())))
}

// counterWriter is one client node editing its own entity.
type counterWriter struct {
	c  *core.Context
	id id.EntityID
}

func newCounterWriter(t testing.TB, ctx context.Context, url string) counterWriter {
	n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := ws.Dial(dctx, url, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); n.Close() })
	c := n.Context(nil)
	trx := c.Begin()
	m, err := trx.Create(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set("n", 0); err != nil {
		t.Fatal(err)
	}
	if err := trx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return counterWriter{c, m.ID()}
}

func (w counterWriter) run(ctx context.Context, commits int) error {
	for i := 0; i < commits; i++ {
		trx := w.c.Begin()
		m, err := trx.Edit(ctx, "counter", w.id)
		if err != nil {
			return err
		}
		if err := m.Set("n", i+1); err != nil {
			return err
		}
		if err := trx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}
