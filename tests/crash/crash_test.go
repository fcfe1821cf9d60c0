package crash

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

const (
	writers     = 4
	maxAttempts = 1 << 20 // per writer; pacing keeps a run far below it
	// Generous deadlines: reaching one is a failure, never a measure.
	reconnectWait = 60 * time.Second
	drainWait     = 60 * time.Second
)

// TestCrashLoop kills `ankurah serve` with SIGKILL at random moments under
// a commit load, on bolt and on PostgreSQL, and checks that no acknowledged
// commit is lost and every offline commit reaches the server (see the
// package documentation).
func TestCrashLoop(t *testing.T) {
	cycles := envInt(t, "CRASH_CYCLES", 10)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("bolt", func(t *testing.T) {
		crashLoop(t, bin, "bolt://"+filepath.Join(t.TempDir(), "ankurah.db"), cycles, seed)
	})
	t.Run("postgres", func(t *testing.T) {
		crashLoop(t, bin, createDatabase(t, pgtest.URL(t)), cycles, seed)
	})
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// createDatabase makes a database of the test's own on the PostgreSQL
// server at serverURL (dropped when the test ends) and returns its URL.
func createDatabase(t *testing.T, serverURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := pgtest.SchemaName(fmt.Sprintf("crash_%d_%d", os.Getpid(), time.Now().UnixNano()))
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("CREATE DATABASE: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Errorf("connecting to PostgreSQL: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE: %v", err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// figures are what one crash loop measured.
type figures struct {
	cycles, earlyKills     int
	acked, offline         int
	notAcked, notAckedKept int
	stored                 int
	elapsed                time.Duration
}

func crashLoop(t *testing.T, bin, storageURL string, cycles int, seed uint64) {
	engine := filepath.Base(t.Name())
	t.Logf("seed %d; replay: CRASH_SEED=%d CRASH_CYCLES=%d go test -v -run 'TestCrashLoop/%s' ./tests/crash", seed, seed, cycles, engine)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()
	serverLog, clientLog := &tail{}, &tail{}
	srv := &server{bin: bin, storage: storageURL, addr: freeAddr(t), log: serverLog}
	t.Cleanup(func() {
		if err := srv.kill(); err != nil {
			t.Error(err)
		}
	})
	cycle := 0
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, %s, cycle %d of %d: %s\n--- server log (last lines):\n%s\n--- client log (last lines):\n%s",
			seed, engine, cycle, cycles, fmt.Sprintf(format, args...), serverLog, clientLog)
	}
	start := time.Now()
	systemID, err := srv.start()
	if err != nil {
		fail("%v", err)
	}
	wsURL := "ws://" + srv.addr + "/ws"
	logger := slog.New(slog.NewTextHandler(clientLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var ws []*writer
	for i := range writers {
		wr, err := newWriter(ctx, i, wsURL, logger)
		if err != nil {
			fail("client %d: %v", i, err)
		}
		t.Cleanup(wr.close)
		ws = append(ws, wr)
	}
	l := newLedger(writers)
	var down atomic.Bool
	// The load pauses while the test reads the dead server's store, so the
	// outbox a downtime builds depends on the downtime drawn, not on the
	// store's size.
	var gate sync.RWMutex
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, wr := range ws {
		r := rand.New(rand.NewPCG(seed, uint64(i+1)))
		wg.Go(func() { wr.run(loadCtx, l, &down, &gate, r, maxAttempts) })
	}
	stop := sync.OnceFunc(func() { stopLoad(); wg.Wait() })
	t.Cleanup(stop) // before the writers close

	ups := func() []int64 {
		u := make([]int64, len(ws))
		for i, wr := range ws {
			u[i] = wr.ups.Load()
		}
		return u
	}
	waitConnected := func(since []int64) {
		t.Helper()
		deadline := time.Now().Add(reconnectWait)
		for i, wr := range ws {
			for !wr.connectedSince(since[i]) {
				if time.Now().After(deadline) {
					fail("client %d has not reconnected %v after the restart (state %v)", i, reconnectWait, wr.client.State().Get())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	confirmed := map[key]bool{}
	// drain waits until every commit acknowledged before mark is readable
	// through the server.
	drain := func(mark []int) {
		t.Helper()
		want := l.acked(mark)
		for k := range confirmed {
			delete(want, k)
		}
		deadline := time.Now().Add(drainWait)
		for len(want) > 0 {
			found, err := fetchThroughServer(ctx, wsURL, want)
			if err != nil {
				t.Logf("fetch through the server: %v (retrying)", err)
			}
			for k := range found {
				confirmed[k] = true
				delete(want, k)
			}
			if len(want) == 0 {
				break
			}
			if time.Now().After(deadline) {
				fail("%d acknowledged commits not on the server %v after every client reconnected: %s", len(want), drainWait, describe(want))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var prev contents
	// checkStore opens the store of the dead server and checks it holds
	// everything it held before and everything confirmed, each once.
	checkStore := func(badRows bool) contents {
		t.Helper()
		gate.Lock()
		defer gate.Unlock()
		got, err := readStore(ctx, storageURL, badRows)
		if err != nil {
			fail("%v", err)
		}
		for k, n := range got {
			if n > 1 {
				fail("commit w=%d seq=%d is stored as %d entities", k.w, k.seq, n)
			}
		}
		var vanished []key
		for k := range prev {
			if got[k] == 0 {
				vanished = append(vanished, k)
			}
		}
		for k := range confirmed {
			if got[k] == 0 && prev[k] == 0 {
				vanished = append(vanished, k)
			}
		}
		if len(vanished) > 0 {
			fail("%d commits the server had stored are gone after SIGKILL, e.g. %v", len(vanished), sortedKeys(vanished)[:min(5, len(vanished))])
		}
		prev = got
		return got
	}

	var fig figures
	mark, since := []int(nil), make([]int64, writers) // the first connections count
	for cycle = 1; cycle <= cycles; cycle++ {
		t0 := time.Now()
		var tConnected, tDrained time.Duration
		// Early kills land while clients reconnect and send their outboxes:
		// every fourth cycle from the third, and one in five of the others.
		early := cycle > 1 && (cycle%4 == 3 || rng.IntN(5) == 0)
		if early {
			fig.earlyKills++
			time.Sleep(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
		} else {
			waitConnected(since)
			tConnected = time.Since(t0)
			drain(mark)
			tDrained = time.Since(t0)
			time.Sleep(50*time.Millisecond + time.Duration(rng.Int64N(int64(400*time.Millisecond))))
		}
		if err := srv.kill(); err != nil {
			fail("%v", err)
		}
		down.Store(true)
		t1 := time.Now()
		// Undecodable rows are looked for every tenth cycle (a whole second
		// pass over the store) and at the end.
		stored := len(checkStore(cycle%10 == 0))
		tStore := time.Since(t1)
		time.Sleep(20*time.Millisecond + time.Duration(rng.Int64N(int64(200*time.Millisecond))))
		mark, since = l.mark(), ups()
		down.Store(false)
		t2 := time.Now()
		id, err := srv.start()
		t.Logf("cycle %d: early=%v reconnected=%s drained=%s killed at %s; store read in %s (%d commits); restarted in %s",
			cycle, early, tConnected.Round(time.Millisecond), tDrained.Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), tStore.Round(time.Millisecond), stored, time.Since(t2).Round(time.Millisecond))
		if err != nil {
			fail("restart: %v", err)
		}
		if id != systemID {
			fail("the server came back as system %s, was %s", id, systemID)
		}
	}
	cycle = cycles
	// The end: every client reconnects, the load stops, every acknowledged
	// commit reaches the server, which is killed one last time.
	waitConnected(since)
	drain(mark)
	stop()
	final := l.mark()
	drain(final)
	if err := srv.kill(); err != nil {
		fail("%v", err)
	}
	got := checkStore(true)
	acked := l.acked(final)
	var lost []key
	for k, o := range acked {
		if got[k] == 0 {
			lost = append(lost, k)
		}
		if o.offline {
			fig.offline++
		}
	}
	if len(lost) > 0 {
		fail("%d of %d acknowledged commits lost, e.g. %v", len(lost), len(acked), sortedKeys(lost)[:min(5, len(lost))])
	}
	fig.cycles, fig.acked, fig.stored, fig.elapsed = cycles, len(acked), len(got), time.Since(start)
	for w, n := range final {
		fig.notAcked += n
		for seq := range n {
			if _, ok := acked[key{int64(w), int64(seq)}]; !ok && got[key{int64(w), int64(seq)}] > 0 {
				fig.notAckedKept++
			}
		}
	}
	fig.notAcked -= fig.acked
	if fig.acked == 0 || fig.offline == 0 {
		fail("the load made %d acknowledged commits, %d of them offline: the test proves nothing", fig.acked, fig.offline)
	}
	l.mu.Lock()
	if len(l.failed) > 0 {
		t.Logf("%d commits were not acknowledged; the first errors: %v", l.nfailed, l.failed)
	}
	l.mu.Unlock()
	t.Logf("%s: cycles=%d (early kills %d) acknowledged=%d (offline %d, all drained) lost=0 not-acknowledged=%d (of which stored anyway %d) stored=%d time=%s",
		engine, fig.cycles, fig.earlyKills, fig.acked, fig.offline, fig.notAcked, fig.notAckedKept, fig.stored, fig.elapsed.Round(100*time.Millisecond))
}

func describe(missing map[key]outcome) string {
	keys := make([]key, 0, len(missing))
	offline := 0
	for k, o := range missing {
		keys = append(keys, k)
		if o.offline {
			offline++
		}
	}
	keys = sortedKeys(keys)
	return fmt.Sprintf("%d of them acknowledged offline; the first: %v", offline, keys[:min(5, len(keys))])
}

func sortedKeys(ks []key) []key {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].w != ks[j].w {
			return ks[i].w < ks[j].w
		}
		return ks[i].seq < ks[j].seq
	})
	return ks
}
