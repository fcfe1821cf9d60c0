package main

import (
	"context"
	"log/slog"
	"time"
)

// runBS1 preloads a fresh server with size docs from a client (transactions
// of batch docs, each system's bulk insert) and then times a fresh client in
// its own process from its start until it holds all of them through one
// query. It returns the BS1 result and the bulk-write result of the preload.
func (b *bench) runBS1(ctx context.Context, p *peer, size int) (bs1, bulk result) {
	bs1 = result{"peer": p.name, "version": p.version, "metric": "BS1", "n": size}
	bulk = result{"peer": p.name, "version": p.version, "metric": "bulk", "n": size, "batch": b.batch}
	fail := func(r result, err error) (result, result) {
		slog.Error("BS1 failed", "peer", p.name, "size", size, "metric", r["metric"], "err", err)
		r["error"] = err.Error()
		if r["metric"] == "bulk" {
			bs1["error"] = "preload failed: " + err.Error()
		}
		return bs1, bulk
	}
	srv, err := p.startServer(ctx, b)
	if err != nil {
		return fail(bulk, err)
	}
	defer srv.stop()
	loader, err := b.client(p, "loader", "load", merge(srv.cfg, map[string]any{"size": size, "batch": b.batch, "limitMs": b.loadLimit.Milliseconds()}))
	if err != nil {
		return fail(bulk, err)
	}
	m, err := loader.wait(ctx, "loaded", b.loadLimit+30*time.Second)
	loader.stop(3 * time.Second)
	if err != nil {
		return fail(bulk, err)
	}
	bulk["total_ms"], bulk["write_ms"] = round2(m.num("confirmedMs")), round2(m.num("writeMs"))
	slog.Info("BS1 preloaded", "peer", p.name, "size", size, "ms", m.num("confirmedMs"))

	cpu0, _, ok0 := cpuMs(srv.pid())
	fresh, err := b.client(p, "fresh", "fresh", merge(srv.cfg, map[string]any{"size": size, "limitMs": b.bs1Limit.Milliseconds()}))
	if err != nil {
		return fail(bs1, err)
	}
	defer fresh.stop(3 * time.Second)
	m, err = fresh.wait(ctx, "result", b.bs1Limit+30*time.Second)
	if err != nil {
		return fail(bs1, err)
	}
	cpu1, rss, ok1 := cpuMs(srv.pid())
	if ok0 && ok1 {
		bs1["server_cpu_ms"], bs1["server_rss_mb"] = round2(cpu1-cpu0), round2(rss)
	}
	bs1["got"] = m["got"]
	if d, ok := m["detail"]; ok {
		bs1["detail"] = d
	}
	if m["complete"] == true {
		bs1["total_ms"] = round2(m.num("ms"))
	} else {
		bs1["incomplete"] = true
		bs1["notes"] = "did not complete within " + b.bs1Limit.String()
	}
	return bs1, bulk
}
