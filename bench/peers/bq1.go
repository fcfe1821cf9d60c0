package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// bq1Config is BQ1's shape: one writer, n subscribers spread over at most
// procs worker processes, writes matching docs spacing apart (plus one
// non-matching doc halfway between each pair), drain the wait for stragglers.
type bq1Config struct {
	Writes  int
	Spacing time.Duration
	Procs   int
	Drain   time.Duration
}

// runBQ1 measures write→notify latency for one peer with n subscribers, on a
// fresh server. The writer's process runs the write schedule itself and stamps
// each doc with its clock just before the write call; each subscriber records
// arrival − stamp. The result carries p50/p99/max over all n×Writes samples.
func (b *bench) runBQ1(ctx context.Context, p *peer, n int) result {
	c := b.bq1
	r := result{"peer": p.name, "version": p.version, "metric": "BQ1", "n": n}
	fail := func(err error) result {
		slog.Error("BQ1 failed", "peer", p.name, "n", n, "err", err)
		r["error"] = err.Error()
		return r
	}
	srv, err := p.startServer(ctx, b)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	writer, err := b.client(p, "writer", "writer", srv.cfg)
	if err != nil {
		return fail(err)
	}
	defer writer.stop(3 * time.Second)
	if _, err := writer.wait(ctx, "ready", 60*time.Second); err != nil {
		return fail(err)
	}
	procs := min(n, c.Procs)
	var subs []*proc
	defer func() {
		for _, s := range subs {
			s.stop(3 * time.Second)
		}
	}()
	base := 0
	for i := range procs {
		count := n/procs + b2i(i < n%procs)
		cfg := merge(srv.cfg, map[string]any{"count": count, "base": base, "writes": c.Writes})
		base += count
		s, err := b.client(p, fmt.Sprintf("sub%d", i), "subs", cfg)
		if err != nil {
			return fail(err)
		}
		subs = append(subs, s)
	}
	for _, s := range subs {
		if _, err := s.wait(ctx, "ready", 120*time.Second); err != nil {
			return fail(err)
		}
	}
	slog.Info("BQ1 subscribers ready", "peer", p.name, "n", n, "procs", procs)

	// Warm-up: a matching doc every 500 ms until every subscriber saw one.
	warm := make(chan error, len(subs))
	for _, s := range subs {
		go func() { _, err := s.wait(ctx, "warm", 90*time.Second); warm <- err }()
	}
	warmed := 0
	tick := time.NewTicker(500 * time.Millisecond)
	for k := 0; warmed < len(subs); {
		select {
		case err := <-warm:
			if err != nil {
				tick.Stop()
				return fail(err)
			}
			warmed++
		case <-tick.C:
			if err := writer.send(map[string]any{"op": "warm", "k": k}); err != nil {
				tick.Stop()
				return fail(err)
			}
			k++
		}
	}
	tick.Stop()
	time.Sleep(500 * time.Millisecond)

	// Measured phase.
	cpu0, _, cpuOK := cpuMs(srv.pid())
	if err := writer.send(map[string]any{"op": "run", "writes": c.Writes, "spacingMs": float64(c.Spacing) / 1e6}); err != nil {
		return fail(err)
	}
	phase := time.Duration(c.Writes)*c.Spacing + 30*time.Second
	ran, err := writer.wait(ctx, "ran", phase)
	if err != nil {
		return fail(err)
	}
	doneBy := time.Now().Add(c.Drain)
	for _, s := range subs {
		if _, err := s.wait(ctx, "done", max(time.Millisecond, time.Until(doneBy))); err != nil {
			slog.Warn("BQ1: a subscriber process did not get every write", "peer", p.name, "n", n, "err", err)
		}
	}
	cpu1, rss, cpuOK2 := cpuMs(srv.pid())
	var all []float64
	lastSub := make([]float64, c.Writes) // per write: the time until the last subscriber had it
	missing, falseN, reported := 0, 0, 0
	for _, s := range subs {
		if err := s.send(map[string]any{"op": "finish"}); err != nil {
			continue
		}
		m, err := s.wait(ctx, "result", 30*time.Second)
		if err != nil {
			slog.Warn("BQ1: no result", "peer", p.name, "err", err)
			continue
		}
		falseN += int(m.num("falseNotifies"))
		lat, _ := m["lat"].([]any)
		for _, row := range lat {
			reported++
			xs, _ := row.([]any)
			for i := range c.Writes {
				var x any
				if i < len(xs) {
					x = xs[i]
				}
				f, ok := x.(float64)
				if !ok {
					missing++
					lastSub[i] = inf
					continue
				}
				all = append(all, f)
				lastSub[i] = max(lastSub[i], f)
			}
		}
	}
	missing += (n - reported) * c.Writes
	s := summarize(all)
	var finite []float64
	for _, x := range lastSub {
		if x != inf {
			finite = append(finite, x)
		}
	}
	ls := summarize(finite)
	r["p50_ms"], r["p99_ms"], r["max_ms"] = round2(s.P50), round2(s.P99), round2(s.Max)
	r["samples"], r["missing"], r["false_notifies"] = s.N, missing, falseN
	r["last_sub_p50_ms"], r["last_sub_p99_ms"] = round2(ls.P50), round2(ls.P99)
	r["writer_lag_max_ms"], r["write_errors"] = round2(ran.num("lagMaxMs")), ran.num("errors")
	if e := ran.str("firstError"); e != "" {
		r["first_write_error"] = e
	}
	if cpuOK && cpuOK2 {
		r["server_cpu_ms"], r["server_rss_mb"] = round2(cpu1-cpu0), round2(rss)
	}
	if missing > 0 {
		r["notes"] = fmt.Sprintf("%d of %d notifications did not arrive within %v after the last write", missing, n*c.Writes, c.Drain)
	}
	return r
}

const inf = 1e300

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func merge(a, b map[string]any) map[string]any {
	m := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}
