package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

// scrapeMetrics reads /metrics as Prometheus does and returns each series'
// value by its text (name and labels as the text format prints them, e.g.
// `ankurah_commits_total{outcome="ok"}`).
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func wantMetric(t *testing.T, got map[string]float64, series string, want float64) {
	t.Helper()
	v, ok := got[series]
	if !ok {
		t.Errorf("/metrics has no %s", series)
	} else if v != want {
		t.Errorf("%s = %v, want %v", series, v, want)
	}
}

// TestServe_Metrics runs the server on bolt, connects a websocket client
// that subscribes to a live query and commits, and checks what /metrics
// reports before, during and after.
func TestServe_Metrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--storage", "bolt://" + filepath.Join(t.TempDir(), "m.db")}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := scrapeMetrics(t, addr)
	wantMetric(t, m, "ankurah_peers", 0)
	wantMetric(t, m, `ankurah_commits_total{outcome="ok"}`, 0)
	wantMetric(t, m, `ankurah_request_duration_seconds_count{kind="commit"}`, 0)
	// Opening the store wrote the system id: one Apply, timed.
	wantMetric(t, m, `ankurah_storage_duration_seconds_count{op="apply"}`, 1)
	if m["go_goroutines"] <= 0 || m["process_resident_memory_bytes"] <= 0 {
		t.Errorf("no Go runtime or process metrics: go_goroutines %v, process_resident_memory_bytes %v", m["go_goroutines"], m["process_resident_memory_bytes"])
	}

	client, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := ws.Dial(dctx, "ws://"+addr+"/ws", client)
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := client.Context(nil)
	lq, err := c.Query(ctx, "album", "year > ?", 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer lq.Close()
	for _, year := range []int{1999, 2001, 2003} {
		trx := c.Begin()
		a, err := trx.Create(ctx, "album")
		if err != nil {
			t.Fatal(err)
		}
		a.Set("name", fmt.Sprintf("album of %d", year))
		a.Set("year", year)
		if err := trx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for len(lq.Items()) != 2 {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("the live query holds %d albums, want 2", len(lq.Items()))
		}
		time.Sleep(10 * time.Millisecond)
	}

	m = scrapeMetrics(t, addr)
	wantMetric(t, m, "ankurah_peers", 1)
	wantMetric(t, m, `ankurah_commits_total{outcome="ok"}`, 3)
	wantMetric(t, m, `ankurah_commits_total{outcome="conflict"}`, 0)
	wantMetric(t, m, "ankurah_commit_conflicts_total", 0)
	wantMetric(t, m, `ankurah_request_duration_seconds_count{kind="commit"}`, 3)
	wantMetric(t, m, `ankurah_request_duration_seconds_count{kind="subscribe"}`, 1)
	wantMetric(t, m, `ankurah_request_errors_total{kind="commit"}`, 0)
	wantMetric(t, m, "ankurah_notify_duration_seconds_count", 3)
	wantMetric(t, m, "ankurah_notified_entities_total", 3)
	wantMetric(t, m, `ankurah_live_queries{collection="album",kind="serving"}`, 1)
	wantMetric(t, m, `ankurah_live_queries{collection="album",kind="local"}`, 0)
	wantMetric(t, m, `ankurah_storage_duration_seconds_count{op="apply"}`, 4)
	wantMetric(t, m, `ankurah_storage_errors_total{op="apply"}`, 0)
	// The subscription came first and found no collection yet (bolt is a
	// storage.CollectionLooker, forwarded through the instrumented engine).
	if v := m[`ankurah_storage_duration_seconds_count{op="lookup_collection"}`]; v < 1 {
		t.Errorf("the subscription's read was not timed: lookup_collection %v", v)
	}
	if _, ok := m["ankurah_peer_queue_bytes"]; !ok {
		t.Errorf("/metrics has no ankurah_peer_queue_bytes")
	}

	lq.Close()
	conn.Close()
	for {
		m = scrapeMetrics(t, addr)
		if m["ankurah_peers"] == 0 {
			break
		}
		if time.Now().After(deadline.Add(40 * time.Second)) {
			t.Fatalf("the server still counts %v peers", m["ankurah_peers"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, ok := m[`ankurah_live_queries{collection="album",kind="serving"}`]; ok && v != 0 {
		t.Errorf("serving live queries after the client left: %v", v)
	}
}
