package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// The ankurah-go client processes: `peerbench client MODE CFG-JSON`. Each
// client is an ephemeral node with its own memory store and its own websocket
// connection to `ankurah serve`; they speak the same JSON lines as the npm
// peers' client scripts in _js/ (commands on stdin, messages on stdout) and
// exit when stdin reaches EOF.

const collection = "docs"

var outMu sync.Mutex

// emit prints one message line on stdout.
func emit(m map[string]any) {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	_, _ = os.Stdout.Write(append(b, '\n'))
}

func clientFatal(err error) {
	fmt.Fprintf(os.Stderr, "peerbench client %d: %v\n", os.Getpid(), err)
	emit(map[string]any{"type": "error", "error": err.Error()})
	os.Exit(1)
}

// stopProfile ends the CPU profile PEERBENCH_CPUPROFILE and the execution
// trace PEERBENCH_TRACE asked for and writes the memory profile
// PEERBENCH_MEMPROFILE asked for, if any.
var stopProfile = func() {}

// clientMain runs one client mode. Its watchdog ends the process after limit
// whatever happens, like the npm clients'.
func clientMain(mode, cfgJSON string, limit time.Duration) {
	var cfg map[string]any
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		clientFatal(fmt.Errorf("config %q: %w", cfgJSON, err))
	}
	time.AfterFunc(limit, func() {
		fmt.Fprintf(os.Stderr, "peerbench client %d: watchdog after %v\n", os.Getpid(), limit)
		os.Exit(3)
	})
	if path := os.Getenv("PEERBENCH_CPUPROFILE"); path != "" && mode == "fresh" {
		// A CPU profile of the fresh client, for finding where BS1's time
		// goes; written when the client exits (ankFresh calls stopProfile).
		f, err := os.Create(path)
		if err != nil {
			clientFatal(fmt.Errorf("PEERBENCH_CPUPROFILE: %w", err))
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			clientFatal(fmt.Errorf("PEERBENCH_CPUPROFILE: %w", err))
		}
		stopProfile = func() { pprof.StopCPUProfile(); _ = f.Close() }
	}
	if path := os.Getenv("PEERBENCH_TRACE"); path != "" && mode == "fresh" {
		// An execution trace of the fresh client (go tool trace): when each
		// goroutine ran, waited and was woken during BS1.
		f, err := os.Create(path)
		if err != nil {
			clientFatal(fmt.Errorf("PEERBENCH_TRACE: %w", err))
		}
		if err := trace.Start(f); err != nil {
			clientFatal(fmt.Errorf("PEERBENCH_TRACE: %w", err))
		}
		stop := stopProfile
		stopProfile = func() { stop(); trace.Stop(); _ = f.Close() }
	}
	if path := os.Getenv("PEERBENCH_MEMPROFILE"); path != "" && mode == "fresh" {
		// Every allocation sampled (MemProfileRate 1): what the fresh client
		// holds when it has every doc, and what it allocated on the way.
		runtime.MemProfileRate = 1
		stop := stopProfile
		stopProfile = func() {
			stop()
			f, err := os.Create(path)
			if err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}
	ctx := context.Background()
	url, _ := cfg["url"].(string)
	num := func(k string) int { f, _ := cfg[k].(float64); return int(f) }
	switch mode {
	case "writer":
		ankWriter(ctx, url)
	case "subs":
		ankSubs(ctx, url, num("count"), num("writes"))
	case "load":
		ankLoad(ctx, url, num("size"), num("batch"))
		lines(func([]byte) {})
	case "fresh":
		go lines(func([]byte) {})
		ankFresh(ctx, url, num("size"), time.Duration(num("limitMs"))*time.Millisecond)
	default:
		clientFatal(fmt.Errorf("unknown client mode %q (want writer, subs, load or fresh)", mode))
	}
}

// lines calls f for each stdin line and exits the process at EOF (the
// orchestrator closed the pipe or went away).
func lines(f func([]byte)) {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
	os.Exit(0)
}

// dial makes an ephemeral node on a fresh memory store connected to url.
func dial(ctx context.Context, url string) (*core.Node, *ws.Client, error) {
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		return nil, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := ws.Dial(dctx, url, node)
	if err != nil {
		_ = node.Close()
		return nil, nil, fmt.Errorf("dial %s: %w", url, err)
	}
	return node, c, nil
}

// doc is a BQ1 document: kind is what subscribers match on, ph the phase
// ('w' warm-up, 'm' measured, 'x' non-matching), n the write index and t the
// writer's clockMs() when it made the write call.
type doc struct {
	id, kind, ph string
	n            int
	t            float64
}

func create(ctx context.Context, trx *core.Transaction, props [][2]any) error {
	m, err := trx.Create(ctx, collection)
	if err != nil {
		return err
	}
	for _, kv := range props {
		if err := m.Set(kv[0].(string), kv[1]); err != nil {
			return err
		}
	}
	return nil
}

func ankWriter(ctx context.Context, url string) {
	node, client, err := dial(ctx, url)
	if err != nil {
		clientFatal(err)
	}
	defer client.Close()
	c := node.Context(nil)
	// Writes run one at a time on the command loop's goroutine (below).
	var errs int
	var firstErr string // the first failed write's error
	// write commits d in its own transaction on the calling goroutine, as an
	// application writes. The schedule's next write is due half a spacing
	// later (10 ms in BQ1), beyond a commit's round trip; a matching write
	// that still starts late shows in lagMaxMs (measured, as the npm peers'
	// writers measure it, before each matching write), and t is taken at
	// the write call either way. The npm peers' writers do not wait for
	// their writes; a Go application's commit does, and a goroutine per
	// write (as before) put one hand-off on every write's path, which on
	// this machine kind costs tens of microseconds when it wakes an idle
	// core's thread: the harness's time, not the system's.
	//
	// A failed write ends the run: the writes after it are counted as
	// failed without being made. One at a time, each could wait out its
	// 30 s against a stalled server, and the run would end on the driver's
	// timeout without reporting why.
	write := func(d doc) {
		if errs > 0 {
			errs++
			return
		}
		trx := c.Begin()
		err := create(ctx, trx, [][2]any{{"key", d.id}, {"kind", d.kind}, {"ph", d.ph}, {"n", d.n}, {"t", d.t}, {"title", "doc " + d.id}})
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = trx.Commit(cctx)
			cancel()
		}
		if err != nil {
			firstErr = fmt.Sprintf("write %s: %v", d.id, err)
			errs++
			fmt.Fprintf(os.Stderr, "write %s: %v (the writes after it are not made)\n", d.id, err)
		}
	}
	emit(map[string]any{"type": "ready"})
	lines(func(line []byte) {
		var cmd struct {
			Op        string  `json:"op"`
			K         int     `json:"k"`
			Writes    int     `json:"writes"`
			SpacingMs float64 `json:"spacingMs"`
		}
		if err := json.Unmarshal(line, &cmd); err != nil {
			clientFatal(fmt.Errorf("writer: bad command %q: %w", line, err))
		}
		switch cmd.Op {
		case "warm":
			write(doc{id: fmt.Sprintf("w%04d", cmd.K), kind: "hit", ph: "w", n: cmd.K, t: clockMs()})
		case "run":
			lag := schedule(cmd.Writes, cmd.SpacingMs, func(i int, hit bool) {
				if hit {
					write(doc{id: fmt.Sprintf("h%04d", i), kind: "hit", ph: "m", n: i, t: clockMs()})
				} else {
					write(doc{id: fmt.Sprintf("x%04d", i), kind: "miss", ph: "x", n: i, t: clockMs()})
				}
			})
			emit(map[string]any{"type": "ran", "lagMaxMs": lag, "errors": errs, "firstError": firstErr})
		}
	})
}

// schedule calls f(i, true) at i×spacing and f(i, false) halfway to the next
// one, for i < writes, and returns how late it ran at worst (ms).
func schedule(writes int, spacingMs float64, f func(i int, hit bool)) float64 {
	t0 := clockMs()
	lag := 0.0
	until := func(due float64) {
		for {
			d := due - clockMs()
			if d <= 0 {
				return
			}
			time.Sleep(time.Duration(min(d, 5) * float64(time.Millisecond)))
		}
	}
	for i := range writes {
		due := t0 + float64(i)*spacingMs
		until(due)
		lag = max(lag, clockMs()-due)
		f(i, true)
		until(due + spacingMs/2)
		f(i, false)
	}
	return lag
}

type subscriber struct {
	lat    []any // per measured write: latency in ms, or nil
	got    int
	warm   bool
	falseN int
}

func ankSubs(ctx context.Context, url string, count, writes int) {
	var mu sync.Mutex
	subs := make([]*subscriber, count)
	ready, warmSent, doneSent := false, false, false
	check := func() { // under mu
		if !ready {
			return
		}
		allWarm, allDone := true, true
		for _, s := range subs {
			allWarm = allWarm && s.warm
			allDone = allDone && s.got == writes
		}
		if allWarm && !warmSent {
			warmSent = true
			emit(map[string]any{"type": "warm"})
		}
		if allDone && !doneSent {
			doneSent = true
			emit(map[string]any{"type": "done"})
		}
	}
	type conn struct {
		node   *core.Node
		client *ws.Client
		lq     *core.LiveQuery
	}
	conns := make([]conn, count)
	for i := range count {
		s := &subscriber{lat: make([]any, writes)}
		subs[i] = s
		node, client, err := dial(ctx, url)
		if err != nil {
			clientFatal(err)
		}
		qctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		// On an ephemeral node the query subscribes on the server, which
		// runs the filter.
		lq, err := node.Context(nil).Query(qctx, collection, "kind = 'hit'")
		cancel()
		if err != nil {
			clientFatal(fmt.Errorf("subscriber %d: %w", i, err))
		}
		conns[i] = conn{node, client, lq}
		lq.Subscribe(func(cs core.ChangeSet) {
			now := clockMs()
			mu.Lock()
			defer mu.Unlock()
			for _, ch := range cs.Changes {
				if ch.Kind == core.Remove {
					continue
				}
				v := ch.Entity
				if k, _ := v.Get("kind").AsString(); k != "hit" {
					s.falseN++
					continue
				}
				ph, _ := v.Get("ph").AsString()
				n, _ := v.Get("n").AsInt()
				t, ok := v.Get("t").AsFloat()
				switch {
				case ph == "w":
					s.warm = true
				case ph == "m" && ok && n >= 0 && int(n) < writes && s.lat[n] == nil:
					s.lat[n] = now - t
					s.got++
				}
			}
			check()
		})
	}
	mu.Lock()
	ready = true
	emit(map[string]any{"type": "ready"})
	check()
	mu.Unlock()
	lines(func(line []byte) {
		var cmd struct {
			Op string `json:"op"`
		}
		if json.Unmarshal(line, &cmd) != nil || cmd.Op != "finish" {
			return
		}
		mu.Lock()
		lat := make([][]any, count)
		falseN := 0
		for i, s := range subs {
			lat[i] = append([]any(nil), s.lat...)
			falseN += s.falseN
		}
		mu.Unlock()
		emit(map[string]any{"type": "result", "lat": lat, "falseNotifies": falseN})
		for _, c := range conns {
			c.lq.Close()
			_ = c.client.Close()
			_ = c.node.Close()
		}
		os.Exit(0)
	})
}

// bs1Props is BS1 doc i: half of them have kind 'hit'.
func bs1Props(i int) [][2]any {
	kind := "miss"
	if i%2 == 0 {
		kind = "hit"
	}
	return [][2]any{{"key", fmt.Sprintf("d%06d", i)}, {"kind", kind}, {"n", i}, {"title", fmt.Sprintf("document number %d", i)}}
}

// ankLoad commits size docs in transactions of batch; each commit returns
// once the server stored it. A live count on the server, read through a
// second client so that nothing comes from the loader's own cache, then
// confirms it holds them all (as PouchDB's doc_count and Triplit's fetch
// confirm theirs).
// loadInFlight is how many of the preload's transactions ankLoad commits at
// once.
const loadInFlight = 2

func ankLoad(ctx context.Context, url string, size, batch int) {
	t0 := clockMs()
	node, client, err := dial(ctx, url)
	if err != nil {
		clientFatal(err)
	}
	defer client.Close()
	c := node.Context(nil)
	// Up to loadInFlight transactions are committed at once: the next one is
	// built while the server stores the one before (the connection
	// pipelines their requests; each Commit waits for its own answer).
	inFlight := make(chan struct{}, loadInFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error // the first commit that failed
	stopped := func() bool { mu.Lock(); defer mu.Unlock(); return failed != nil }
	for i := 0; i < size && !stopped(); i += batch {
		trx := c.Begin()
		for j := i; j < min(size, i+batch); j++ {
			if err := create(ctx, trx, bs1Props(j)); err != nil {
				clientFatal(err)
			}
		}
		inFlight <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-inFlight; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, 120*time.Second)
			defer cancel()
			if err := trx.Commit(cctx); err != nil {
				mu.Lock()
				if failed == nil {
					failed = fmt.Errorf("commit of docs %d..%d: %w", i, min(size, i+batch)-1, err)
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if failed != nil {
		clientFatal(failed)
	}
	tw := clockMs()
	cnode, cclient, err := dial(ctx, url)
	if err != nil {
		clientFatal(err)
	}
	defer cclient.Close()
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	count, err := cnode.Context(nil).Count(fctx, collection, "true")
	if err != nil {
		clientFatal(fmt.Errorf("check count: %w", err))
	}
	got := count.Count()
	count.Close()
	if got != int64(size) {
		clientFatal(fmt.Errorf("the server holds %d docs after the load, want %d", got, size))
	}
	emit(map[string]any{"type": "loaded", "writeMs": tw - t0, "confirmedMs": clockMs() - t0})
}

// ankFresh times a fresh client from its start until one live query over
// the whole collection holds every doc.
func ankFresh(ctx context.Context, url string, size int, limit time.Duration) {
	t0 := clockMs()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res := map[string]any{"type": "result", "complete": false}
	node, client, err := dial(ctx, url)
	if err != nil {
		res["ms"], res["detail"] = clockMs()-t0, err.Error()
		emit(res)
		os.Exit(0)
	}
	tc := clockMs()
	lq, err := node.Context(nil).Query(ctx, collection, "true")
	res["ms"] = clockMs() - t0
	if err != nil {
		res["detail"] = err.Error()
		emit(res)
		os.Exit(0)
	}
	got := len(lq.Items())
	res["got"], res["complete"] = got, got == size
	res["detail"] = map[string]any{"connect_ms": tc - t0, "query_ms": clockMs() - tc}
	// The profile is written before the result goes out: the orchestrator
	// closes stdin when it has the result, and lines exits the process then.
	stopProfile()
	emit(res)
	lq.Close()
	_ = client.Close()
	_ = node.Close()
	os.Exit(0)
}
