//go:build linux

package crash

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// The load test: many websocket clients, each with a live query and a modest
// write rate, against one `ankurah serve` process on bolt. Its size comes from
// the environment; the defaults are the CI size, `make load` runs the full one
// (docs/reliability.md, "Load").
//
//	LOAD_CLIENTS   clients (default 100)
//	LOAD_DURATION  how long they write (default 5s)
//	LOAD_INTERVAL  mean pause between one client's writes (default 300ms; each is drawn from [½, 1½] of it)
//	LOAD_GROUP     clients per live query (default 10)
//	LOAD_SEED      the seed of the pacing (default: drawn and logged)
//	LOAD_SETTLE    how long to keep sampling the server's RSS after the clients leave (default 0: only until it is within the bound)
//	LOAD_VERBOSE   set: log every RSS sample
const (
	loadCollection = "load"
	// The server's per-connection queue bound during the test: the smallest
	// allowed, so the never-reading client reaches it quickly.
	loadPeerQueue = 1 << 20
	// Generous deadlines: reaching one is a failure, never a measure.
	loadDialWait   = 60 * time.Second
	loadNotifyWait = 120 * time.Second
	loadRSSWait    = 120 * time.Second
	loadSlowWait   = 120 * time.Second
	// How far above its starting RSS the server may stay once the clients
	// have left, and how far it may grow while the never-reading client's
	// queue fills: generous, for a runtime that returns memory lazily.
	loadRSSBound      = 96 << 20
	loadSlowRSSGrowth = 64 << 20
	// The Go runtime returns freed memory to the system lazily (its heap goal
	// stays where the peak left it until a GC moves it), so a server whose
	// RSS is still above the bound has come back when its heap in use is
	// within this of its start: what stays is then freed memory, not live.
	loadHeapBound = 48 << 20
)

type loadConfig struct {
	clients, group int
	duration       time.Duration
	interval       time.Duration
	settle         time.Duration
	seed           uint64
}

func loadConfigFromEnv(t *testing.T) loadConfig {
	t.Helper()
	c := loadConfig{clients: 100, group: 10, duration: 5 * time.Second, interval: 300 * time.Millisecond, seed: rand.Uint64()}
	num := func(name string, dst *int) {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive integer", name, s)
			}
			*dst = n
		}
	}
	dur := func(name string, dst *time.Duration) {
		if s := os.Getenv(name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a positive duration such as 60s", name, s)
			}
			*dst = d
		}
	}
	num("LOAD_CLIENTS", &c.clients)
	num("LOAD_GROUP", &c.group)
	dur("LOAD_DURATION", &c.duration)
	dur("LOAD_INTERVAL", &c.interval)
	dur("LOAD_SETTLE", &c.settle)
	if s := os.Getenv("LOAD_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LOAD_SEED=%q: want an unsigned integer", s)
		}
		c.seed = n
	}
	return c
}

// TestLoad_ManyClients runs the load and checks: no commit fails, no live
// query fails, the server logs no error; every acknowledged write reaches
// every other client of its group through the server; the server's RSS (or,
// while the runtime still holds freed memory, its Go heap in use) comes back
// near where it started once the clients have left; and a client that
// stops reading is disconnected once its queue bound is reached, without the
// server's memory growing past a bound.
func TestLoad_ManyClients(t *testing.T) {
	cfg := loadConfigFromEnv(t)
	t.Logf("load: %d clients in groups of %d, %v of writes every ~%v; LOAD_SEED=%d", cfg.clients, cfg.group, cfg.duration, cfg.interval, cfg.seed)
	raiseFileLimit(t, uint64(2*cfg.clients+256))
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	srv := startLoadServer(t, bin)
	rss := newRSSSampler(srv.pid, "http://"+srv.addr+"/metrics")
	rssDone := make(chan struct{})
	rssCtx, stopRSS := context.WithCancel(ctx)
	go func() { defer close(rssDone); rss.run(rssCtx, 500*time.Millisecond) }()
	defer func() { stopRSS(); <-rssDone }()
	start := rss.sample("start")

	clientLog := &tail{}
	logger := slog.New(slog.NewTextHandler(clientLog, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Connect every client and open its live query before anyone writes.
	clients := make([]*loadClient, cfg.clients)
	var dialErr error
	var dialMu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := newLoadClient(ctx, i, i/cfg.group, srv.url, logger)
			dialMu.Lock()
			defer dialMu.Unlock()
			if err != nil && dialErr == nil {
				dialErr = fmt.Errorf("client %d: %w", i, err)
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	if dialErr != nil {
		t.Fatalf("%v\nserver log:\n%s", dialErr, srv.log)
	}
	connected := rss.sample("connected")

	// The load.
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.duration)
	began := time.Now()
	for i, c := range clients {
		wg.Add(1)
		rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)))
		go func() { defer wg.Done(); c.write(loadCtx, rng, cfg.interval) }()
	}
	wg.Wait()
	stopLoad()
	wrote := time.Since(began)
	peak := rss.max()

	// Every acknowledged write reaches the rest of its group.
	acked := map[int][]loadKey{} // group -> writes
	var nacked, nfailed int
	var failures []error
	for _, c := range clients {
		c.mu.Lock()
		acked[c.group] = append(acked[c.group], c.acked...)
		nacked += len(c.acked)
		nfailed += c.nfailed
		failures = append(failures, c.failures...)
		c.mu.Unlock()
	}
	if nfailed > 0 {
		t.Errorf("%d of %d commits failed; first: %v", nfailed, nfailed+nacked, failures)
	}
	deadline := time.Now().Add(loadNotifyWait)
	var missing int
	for {
		missing = 0
		for _, c := range clients {
			missing += c.missing(acked[c.group])
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if missing > 0 {
		t.Errorf("%d notifications of acknowledged writes never arrived within %v", missing, loadNotifyWait)
	}
	var lat []time.Duration
	var dup int
	for _, c := range clients {
		c.mu.Lock()
		lat = append(lat, c.latency...)
		dup += c.dup
		if c.queryErr != nil {
			t.Errorf("client %d: live query failed: %v", c.i, c.queryErr)
		}
		c.mu.Unlock()
	}
	if dup > 0 {
		t.Errorf("%d writes were reported added twice to one live query", dup)
	}
	slices.Sort(lat)
	t.Logf("load: %d writes acknowledged in %v (%.0f/s), %d notifications; write→notify p50 %v, p99 %v, max %v",
		nacked, wrote.Round(time.Millisecond), float64(nacked)/wrote.Seconds(), len(lat), pct(lat, 50), pct(lat, 99), pct(lat, 100))

	// The clients leave; the server's memory comes back near the start.
	for i, c := range clients {
		c.close()
		clients[i] = nil
	}
	left := rss.sample("clients left")
	back := left
	deadline = time.Now().Add(loadRSSWait)
	settled := time.Now().Add(cfg.settle)
	cameBack := func(s rssSample) bool {
		return s.rss <= start.rss+loadRSSBound || (s.heap >= 0 && start.heap >= 0 && s.heap <= start.heap+loadHeapBound)
	}
	for (!cameBack(back) && time.Now().Before(deadline)) || time.Now().Before(settled) {
		time.Sleep(time.Second)
		back = rss.sample("settling")
	}
	back = rss.sample("settled")
	t.Logf("server RSS: start %s, connected %s, peak %s, clients left %s, settled %s after %v (RssAnon %s → %s; Go heap in use %s, %s when the clients left, %s settled)",
		mib(start.rss), mib(connected.rss), mib(peak.rss), mib(left.rss), mib(back.rss), (back.at - left.at).Round(time.Second),
		mib(start.anon), mib(back.anon), mib(start.heap), mib(left.heap), mib(back.heap))
	if !cameBack(back) {
		t.Errorf("server RSS %s stayed more than %s above its start (%s), and its heap in use %s more than %s above its start (%s), for %v after the clients left",
			mib(back.rss), mib(loadRSSBound), mib(start.rss), mib(back.heap), mib(loadHeapBound), mib(start.heap), loadRSSWait)
	}

	// A client that never reads is disconnected at its queue bound.
	testSlowReader(t, ctx, srv, rss, logger)

	if n := srv.errors.Load(); n > 0 {
		t.Errorf("the server logged %d errors:\n%s", n, srv.log)
	}
	if os.Getenv("LOAD_VERBOSE") != "" {
		t.Logf("server RSS over time:\n%s", rss)
	}
}

// testSlowReader connects a client (group -1) through a proxy that, once the
// client's live query is open, stops reading from the server; a writer then
// commits entities of group -1 until the server reports it disconnected the
// peer for not reading. The connection must then end, and the server's RSS
// must not have grown past a bound meanwhile.
func testSlowReader(t *testing.T, ctx context.Context, srv *loadServer, rss *rssSampler, logger *slog.Logger) {
	t.Helper()
	px, err := newStallProxy(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.close()
	slow, err := newLoadClient(ctx, -1, -1, "ws://"+px.addr()+"/ws", logger)
	if err != nil {
		t.Fatalf("never-reading client: %v", err)
	}
	defer slow.close()
	writer, err := newLoadClient(ctx, -2, -2, srv.url, logger)
	if err != nil {
		t.Fatalf("ballast writer: %v", err)
	}
	defer writer.close()

	before := rss.sample("slow reader stalls")
	px.stall()
	ballast := strings.Repeat("x", 16<<10)
	deadline := time.Now().Add(loadSlowWait)
	var sent int
	for srv.slowPeers.Load() == 0 && time.Now().Before(deadline) {
		if err := writer.commit(ctx, map[string]any{"g": -1, "ballast": ballast}); err != nil {
			t.Fatalf("ballast commit: %v", err)
		}
		sent += len(ballast)
	}
	at := rss.sample("slow reader disconnected")
	if srv.slowPeers.Load() == 0 {
		t.Fatalf("the server never disconnected the client that stopped reading (%d KiB of matching writes sent in %v)\nserver log:\n%s", sent>>10, loadSlowWait, srv.log)
	}
	// The server closed it: what it had sent drains, then the connection ends.
	px.resume()
	select {
	case <-px.firstEnded:
	case <-time.After(loadSlowWait):
		t.Fatalf("the connection of the disconnected slow reader did not end within %v", loadSlowWait)
	}
	t.Logf("slow reader: disconnected after %d KiB of matching writes; server RSS %s → %s", sent>>10, mib(before.rss), mib(at.rss))
	if at.rss > before.rss+loadSlowRSSGrowth {
		t.Errorf("server RSS grew from %s to %s while the slow reader's queue filled (bound %s)", mib(before.rss), mib(at.rss), mib(loadSlowRSSGrowth))
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	return d[max(0, min(len(d)-1, i-1))].Round(10 * time.Microsecond)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// raiseFileLimit raises the soft RLIMIT_NOFILE to at least n (the server,
// started afterwards, inherits it).
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Fatalf("RLIMIT_NOFILE hard limit %d is below the %d descriptors the load needs", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising RLIMIT_NOFILE to %d: %v", n, err)
	}
}

// loadServer is one `ankurah serve` on a bolt file, watched for errors and
// for slow-peer disconnections in its log.
type loadServer struct {
	addr, url string
	pid       int
	log       *tail
	errors    atomic.Int64
	slowPeers atomic.Int64
}

func startLoadServer(t *testing.T, bin string) *loadServer {
	t.Helper()
	s := &loadServer{addr: freeAddr(t), log: &tail{}}
	s.url = "ws://" + s.addr + "/ws"
	ready := make(chan struct{})
	var once sync.Once
	s.log.watch(func(line string) bool {
		switch {
		case strings.Contains(line, "level=ERROR"):
			s.errors.Add(1)
		case strings.Contains(line, "disconnecting a slow peer"):
			s.slowPeers.Add(1)
		case servingLine.MatchString(line):
			once.Do(func() { close(ready) })
		}
		return false
	})
	cmd := exec.Command(bin, "serve", "--addr", s.addr, "--storage", "bolt://"+filepath.Join(t.TempDir(), "load.db"),
		"--limit", fmt.Sprintf("peer-queue-bytes=%d", loadPeerQueue))
	cmd.Stdout, cmd.Stderr = s.log, s.log
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.pid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("ankurah serve exited before serving (%v)\n%s", cmd.ProcessState, s.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("ankurah serve did not say it serves within 30 s\n%s", s.log)
	}
	return s
}

// loadKey names one write: its writer and sequence number.
type loadKey struct{ w, seq int64 }

// loadClient is one ephemeral node connected over websockets with a live
// query on its group; it writes one new entity of its group per commit and
// records every write of the others that its query reports added.
type loadClient struct {
	i, group int
	node     *core.Node
	client   *ws.Client
	lq       *core.LiveQuery
	unsub    func()

	mu       sync.Mutex
	seen     map[loadKey]bool
	latency  []time.Duration
	dup      int
	acked    []loadKey
	nfailed  int
	failures []error
	queryErr error
	closed   bool
}

func newLoadClient(ctx context.Context, i, group int, url string, logger *slog.Logger) (*loadClient, error) {
	n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral), core.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	c := &loadClient{i: i, group: group, node: n, seen: map[loadKey]bool{}}
	dctx, cancel := context.WithTimeout(ctx, loadDialWait)
	defer cancel()
	if c.client, err = ws.Dial(dctx, url, n, ws.WithBackoff(50*time.Millisecond, time.Second), ws.WithClientLogger(logger)); err != nil {
		if c.client != nil {
			c.client.Close()
		}
		n.Close()
		return nil, err
	}
	if group == -2 {
		return c, nil // the ballast writer: no query
	}
	if c.lq, err = n.Context(nil).Query(dctx, loadCollection, "g = ?", group); err != nil {
		c.close()
		return nil, err
	}
	c.unsub = c.lq.Subscribe(c.observe)
	return c, nil
}

// observe records the writes of other clients that the query reports.
func (c *loadClient) observe(cs core.ChangeSet) {
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.lq.Err(); err != nil && c.queryErr == nil {
		c.queryErr = err
	}
	for _, ch := range cs.Changes {
		if ch.Kind != core.Add && ch.Kind != core.Initial {
			continue
		}
		w, _ := ch.Entity.Get("w").AsInt()
		seq, _ := ch.Entity.Get("seq").AsInt()
		if w == int64(c.i) {
			continue
		}
		k := loadKey{w, seq}
		if c.seen[k] {
			c.dup++
			continue
		}
		c.seen[k] = true
		if ch.Kind == core.Add {
			if at, ok := ch.Entity.Get("t").AsInt(); ok {
				c.latency = append(c.latency, time.Duration(now-at))
			}
		}
	}
}

// missing counts the writes of others in writes that c has not seen.
func (c *loadClient) missing(writes []loadKey) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range writes {
		if k.w != int64(c.i) && !c.seen[k] {
			n++
		}
	}
	return n
}

func (c *loadClient) commit(ctx context.Context, props map[string]any) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	trx := c.node.Context(nil).Begin()
	m, err := trx.Create(cctx, loadCollection)
	if err != nil {
		trx.Rollback()
		return err
	}
	for k, v := range props {
		if err := m.Set(k, v); err != nil {
			trx.Rollback()
			return err
		}
	}
	return trx.Commit(cctx)
}

// write commits until ctx ends, pausing a random [½, 1½]·interval between
// commits (the first pause spreads the clients' starts).
func (c *loadClient) write(ctx context.Context, rng *rand.Rand, interval time.Duration) {
	pause := func(d time.Duration) bool {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-tm.C:
			return true
		}
	}
	if !pause(time.Duration(rng.Int64N(int64(interval)))) {
		return
	}
	for seq := int64(0); ; seq++ {
		// A commit is made with the load's parent context, so that the end
		// of the load never cuts one short.
		err := c.commit(context.Background(), map[string]any{"g": c.group, "w": c.i, "seq": seq, "t": time.Now().UnixNano()})
		c.mu.Lock()
		if err == nil {
			c.acked = append(c.acked, loadKey{int64(c.i), seq})
		} else {
			c.nfailed++
			if len(c.failures) < 5 {
				c.failures = append(c.failures, err)
			}
		}
		c.mu.Unlock()
		if !pause(interval/2 + time.Duration(rng.Int64N(int64(interval)))) {
			return
		}
	}
}

func (c *loadClient) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	if c.unsub != nil {
		c.unsub()
	}
	if c.lq != nil {
		c.lq.Close()
	}
	c.client.Close()
	c.node.Close()
}

// rssSample is the server's memory at one moment (/proc/PID/status), and
// for a labelled sample its Go heap in use (from its /metrics): what of the
// RSS is live, as opposed to freed but not yet returned to the system.
type rssSample struct {
	at        time.Duration
	label     string
	rss, anon int64
	heap      int64 // go_memstats_heap_inuse_bytes; -1: not read
}

// rssSampler reads the server's RSS periodically and on demand.
type rssSampler struct {
	pid     int
	metrics string
	begin   time.Time
	mu      sync.Mutex
	all     []rssSample
}

func newRSSSampler(pid int, metricsURL string) *rssSampler {
	return &rssSampler{pid: pid, metrics: metricsURL, begin: time.Now()}
}

// heapInuse reads go_memstats_heap_inuse_bytes from the server's metrics.
func (r *rssSampler) heapInuse() int64 {
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(r.metrics)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return int64(f)
			}
		}
	}
	return -1
}

func (r *rssSampler) run(ctx context.Context, every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			r.sample("")
		}
	}
}

func (r *rssSampler) sample(label string) rssSample {
	s := rssSample{at: time.Since(r.begin), label: label, heap: -1}
	if label != "" {
		s.heap = r.heapInuse()
	}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.pid)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			name, rest, _ := strings.Cut(sc.Text(), ":")
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				continue
			}
			switch name {
			case "VmRSS":
				s.rss = kb << 10
			case "RssAnon":
				s.anon = kb << 10
			}
		}
		f.Close()
	}
	r.mu.Lock()
	r.all = append(r.all, s)
	r.mu.Unlock()
	return s
}

func (r *rssSampler) max() rssSample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m rssSample
	for _, s := range r.all {
		if s.rss > m.rss {
			m = s
		}
	}
	return m
}

// String lists the samples, one a line.
func (r *rssSampler) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, s := range r.all {
		heap := ""
		if s.heap >= 0 {
			heap = "  heap in use " + mib(s.heap)
		}
		fmt.Fprintf(&b, "%8.1fs  VmRSS %9s  RssAnon %9s  %s%s\n", s.at.Seconds(), mib(s.rss), mib(s.anon), s.label, heap)
	}
	return b.String()
}

// stallProxy forwards TCP connections to the server; once stalled, it stops
// reading what the server sends (its socket's receive buffer kept small, so
// the server's own queue is what fills). firstEnded closes when the first
// connection's server side has ended.
type stallProxy struct {
	ln         net.Listener
	target     string
	gate       chan struct{} // closed: forwarding from the server; replaced to stall
	mu         sync.Mutex
	conns      []net.Conn
	first      sync.Once
	firstEnded chan struct{}
	wg         sync.WaitGroup
}

func newStallProxy(target string) (*stallProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &stallProxy{ln: ln, target: target, gate: make(chan struct{}), firstEnded: make(chan struct{})}
	close(p.gate)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return errors.Join(err, serr)
		}}
		up, err := d.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		isFirst := len(p.conns) == 2
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(up, down); _ = up.(*net.TCPConn).CloseWrite() }()
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 4096)
			for {
				p.mu.Lock()
				gate := p.gate
				p.mu.Unlock()
				<-gate
				n, err := up.Read(buf)
				if n > 0 {
					if _, werr := down.Write(buf[:n]); werr != nil {
						err = werr
					}
				}
				if err != nil {
					break
				}
			}
			down.Close()
			if isFirst {
				p.first.Do(func() { close(p.firstEnded) })
			}
		}()
	}
}

func (p *stallProxy) stall() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *stallProxy) resume() {
	p.mu.Lock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	p.mu.Unlock()
}

func (p *stallProxy) close() {
	p.resume()
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
