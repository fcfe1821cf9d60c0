package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// The test binary plays every process of a toy run: `client …` is the
// ankurah-go client, and `serve --addr A …` stands in for `ankurah serve`
// (a durable node on memory behind transport-ws at /ws), so the harness is
// checked without building cmd/ankurah.
func TestMain(m *testing.M) {
	if len(os.Args) >= 4 && os.Args[1] == "client" {
		clientMain(os.Args[2], os.Args[3], 2*time.Minute)
		return
	}
	if len(os.Args) >= 4 && os.Args[1] == "serve" && os.Args[2] == "--addr" {
		os.Exit(toyServe(os.Args[3]))
	}
	os.Exit(m.Run())
}

func toyServe(addr string) int {
	ctx := context.Background()
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{})
	if err != nil {
		return 1
	}
	defer node.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.NewServer(node))
	time.AfterFunc(2*time.Minute, func() { os.Exit(3) })
	_ = http.Serve(l, mux)
	return 0
}

// TestRun_ToySizeMeasuresEveryMetric runs the orchestrator on ankurah-go
// (memory) at toy size and checks that every metric has a complete result:
// each subscriber got each write, the fresh client held every doc, and the
// table shows the figures.
func TestRun_ToySizeMeasuresEveryMetric(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server and client processes")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "results.jsonl")
	code := run([]string{"-peers", "ankurah-memory", "-runs", "1", "-ankurah", self, "-ankurah-version", "test",
		"-bq1-ns", "1,3", "-bq1-procs", "2", "-bq1-writes", "10", "-bq1-spacing", "5ms", "-bq1-drain", "10s",
		"-bs1-sizes", "50,200", "-batch", "40", "-out", out})
	if code != 0 {
		t.Fatalf("run exited %d", code)
	}
	rs, err := readResults(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"BQ1/1": false, "BQ1/3": false, "BS1/50": false, "BS1/200": false, "bulk/50": false, "bulk/200": false}
	for _, r := range rs {
		key := fmt.Sprintf("%s/%d", r["metric"], int(num(r["n"])))
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected result %v", r)
			continue
		}
		want[key] = true
		if r["error"] != nil || r["incomplete"] != nil {
			t.Errorf("%s: %v", key, r)
		}
		switch r["metric"] {
		case "BQ1":
			n := int(num(r["n"]))
			if int(num(r["samples"])) != n*10 || num(r["missing"]) != 0 || num(r["false_notifies"]) != 0 {
				t.Errorf("%s: samples %v missing %v false %v, want %d, 0, 0", key, r["samples"], r["missing"], r["false_notifies"], n*10)
			}
			if r["p50_ms"] == nil || num(r["p50_ms"]) > num(r["p99_ms"]) {
				t.Errorf("%s: p50 %v p99 %v", key, r["p50_ms"], r["p99_ms"])
			}
		case "BS1":
			if num(r["got"]) != num(r["n"]) || r["total_ms"] == nil {
				t.Errorf("%s: got %v of %v docs, total %v", key, r["got"], r["n"], r["total_ms"])
			}
		case "bulk":
			if r["total_ms"] == nil {
				t.Errorf("%s: no time", key)
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no %s result", k)
		}
	}
	var sb strings.Builder
	printTable(&sb, rs)
	for _, label := range []string{"BQ1 write→notify, 3 subscribers, p99", "BS1 initial sync, 200 docs", "bulk preload, 200 docs"} {
		if !strings.Contains(sb.String(), label) {
			t.Errorf("table lacks %q:\n%s", label, sb.String())
		}
	}
}
