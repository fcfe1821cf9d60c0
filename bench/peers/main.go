// Command peerbench measures ankurah-go beside other real-time sync systems
// on this machine, with one harness for all of them:
//
//   - BQ1, write→notify: one writer, N subscribers (each its own client with
//     its own store and connection, in worker processes: at most 10 per
//     process), 200 matching writes 20 ms apart plus one non-matching write
//     halfway between each pair; latency is arrival − write call, both read
//     on CLOCK_MONOTONIC, over all N×200 (subscriber, write) pairs.
//   - BS1, initial sync: a server preloaded with 10,000 (then 100,000) small
//     docs; a fresh client in its own process is timed from its start until
//     it holds all of them through one query.
//   - bulk: the BS1 preload itself, a client writing the docs in
//     transactions of 5,000 (each system's bulk insert), timed until the
//     server has acknowledged (or, for systems without acknowledgements, a
//     second connection sees) all of them.
//
// Servers listen on 127.0.0.1 only. Every child process is ended by its PID
// when its measurement ends, when this process gets SIGINT/SIGTERM/SIGHUP,
// and (Pdeathsig) when this process dies. run.sh builds everything and
// installs the npm peers at the versions pinned in _js/npm-shrinkwrap.json.
//
//	peerbench [flags]                 run, print JSON lines to -out and a table
//	peerbench table FILE.jsonl…       print the table of earlier runs
//	peerbench client MODE CFG-JSON    an ankurah-go client process (internal)
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is one measurement, printed as one JSON line.
type result map[string]any

// bench is one run's configuration and shared state.
type bench struct {
	self, ankurahBin, jsDir, node string
	bq1                           bq1Config
	batch                         int
	bs1Limit, loadLimit           time.Duration
	pgURL                         string
	pgStop                        func()
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "client" {
		if len(os.Args) != 4 {
			fmt.Fprintln(os.Stderr, "usage: peerbench client writer|subs|load|fresh CFG-JSON")
			os.Exit(2)
		}
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		clientMain(os.Args[2], os.Args[3], 10*time.Minute)
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "table" {
		var rs []result
		for _, f := range os.Args[2:] {
			r, err := readResults(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			rs = append(rs, r...)
		}
		printTable(os.Stdout, rs)
		return
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	peersFlag := fs.String("peers", "ankurah-memory,ankurah-bolt,ankurah-postgres,yjs,rxdb,triplit,pouchdb,automerge", "comma-separated peers: ankurah-memory, ankurah-bolt, ankurah-postgres, yjs, rxdb, triplit, pouchdb, automerge")
	runs := fs.Int("runs", 2, "runs of every peer (the table shows the median of the runs' figures, and their range)")
	ns := fs.String("bq1-ns", "1,100", "BQ1 subscriber counts (none to skip)")
	writes := fs.Int("bq1-writes", 200, "BQ1 matching writes measured")
	spacing := fs.Duration("bq1-spacing", 20*time.Millisecond, "BQ1 time between matching writes")
	procs := fs.Int("bq1-procs", 10, "BQ1 subscriber processes at most")
	drain := fs.Duration("bq1-drain", 20*time.Second, "BQ1 wait after the last write for notifications still on their way")
	sizes := fs.String("bs1-sizes", "10000,100000", "BS1 (and bulk) sizes (none to skip)")
	batch := fs.Int("batch", 5000, "docs per transaction in the preload (bulk writes)")
	bs1Limit := fs.Duration("bs1-limit", 60*time.Second, "a BS1 sync taking longer is reported incomplete, and larger sizes are skipped")
	loadLimit := fs.Duration("load-limit", 180*time.Second, "time allowed for a preload")
	ankurahBin := fs.String("ankurah", "", "path of the ankurah binary (cmd/ankurah)")
	ankurahVersion := fs.String("ankurah-version", "", "what the ankurah binary was built from (for the version column)")
	jsDir := fs.String("js", "", "directory of the npm peers' scripts and node_modules (default: _js beside this binary's source, as run.sh lays it out)")
	out := fs.String("out", "", "file the JSON result lines are appended to (default: stdout)")
	quick := fs.Bool("quick", false, "toy sizes: 1 run, BQ1 N=1,10 with 50 writes, BS1 1,000 and 10,000")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *quick {
		*runs, *ns, *writes, *sizes, *drain = 1, "1,10", 50, "1000,10000", 10*time.Second
	}
	nList, err := intList(*ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "-bq1-ns:", err)
		return 2
	}
	sList, err := intList(*sizes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "-bs1-sizes:", err)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	node, _ := exec.LookPath("node")
	b := &bench{self: self, ankurahBin: *ankurahBin, jsDir: *jsDir, node: node, batch: *batch, bs1Limit: *bs1Limit, loadLimit: *loadLimit,
		bq1: bq1Config{Writes: *writes, Spacing: *spacing, Procs: *procs, Drain: *drain}}
	var peers []*peer
	all := map[string]*peer{"ankurah-memory": ankurahPeer("memory"), "ankurah-bolt": ankurahPeer("bolt"), "ankurah-postgres": ankurahPeer("postgres")}
	for _, p := range npmPeers() {
		all[strings.TrimSuffix(p.name, "-repo")] = p
	}
	for _, name := range strings.Split(*peersFlag, ",") {
		p, ok := all[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "-peers: unknown peer %q\n", name)
			return 2
		}
		switch {
		case strings.HasPrefix(p.name, "ankurah"):
			if b.ankurahBin == "" {
				fmt.Fprintln(os.Stderr, "-ankurah: the ankurah binary is needed for", p.name)
				return 2
			}
			p.version = *ankurahVersion
		default:
			if b.node == "" || b.jsDir == "" {
				fmt.Fprintln(os.Stderr, "node on PATH and -js are needed for", p.name)
				return 2
			}
			p.version = map[string]string{
				"yjs":            b.npmVersion("yjs", "y-websocket"),
				"rxdb":           b.npmVersion("rxdb"),
				"triplit":        b.npmVersion("@triplit/server", "@triplit/client"),
				"pouchdb":        b.npmVersion("pouchdb", "pouchdb-server"),
				"automerge-repo": b.npmVersion("@automerge/automerge", "@automerge/automerge-repo"),
			}[p.name]
		}
		peers = append(peers, p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		slog.Error("stopping: signal", "signal", s)
		killAll()
		if b.pgStop != nil {
			b.pgStop()
		}
		os.Exit(130)
	}()
	defer func() {
		killAll()
		if b.pgStop != nil {
			b.pgStop()
		}
	}()

	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		w = f
	}
	var results []result
	record := func(r result, run int, p *peer) {
		r["run"] = run
		r["date"] = time.Now().UTC().Format(time.RFC3339)
		if _, ok := r["notes"]; !ok {
			r["notes"] = p.notes
		}
		if l, err := os.ReadFile("/proc/loadavg"); err == nil {
			r["loadavg"] = strings.Join(strings.Fields(string(l))[:3], " ")
		}
		j, _ := json.Marshal(r)
		fmt.Fprintln(w, string(j))
		results = append(results, r)
	}
	for run := 1; run <= *runs; run++ {
		for _, p := range peers {
			for _, n := range nList {
				slog.Info("BQ1", "run", run, "peer", p.name, "n", n)
				record(b.runBQ1(ctx, p, n), run, p)
			}
			skip := ""
			for _, size := range sList {
				if skip != "" {
					record(result{"peer": p.name, "version": p.version, "metric": "BS1", "n": size, "skipped": true, "notes": skip}, run, p)
					continue
				}
				slog.Info("BS1", "run", run, "peer", p.name, "size", size)
				bs1, bulk := b.runBS1(ctx, p, size)
				record(bulk, run, p)
				record(bs1, run, p)
				if bs1["error"] != nil || bs1["incomplete"] != nil {
					skip = fmt.Sprintf("skipped: %d docs did not sync", size)
				}
			}
		}
	}
	printTable(os.Stdout, results)
	return 0
}

func intList(s string) ([]int, error) {
	if s == "none" || s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func readResults(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r["metric"] != nil {
			rs = append(rs, r)
		}
	}
	return rs, sc.Err()
}
