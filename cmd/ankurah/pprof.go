package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// startPprof serves Go's runtime profiles (CPU, heap, allocations,
// goroutines, mutex contention, execution traces) at /debug/pprof/ on a
// listener of its own, so that they are never reachable through the public
// address. A serve error other than
// the server's own close is sent to errc. It warns when addr is not a
// loopback address: the profiles carry no authentication.
func startPprof(addr string, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		slog.Warn("--pprof listens beyond loopback; its profiles have no authentication", "addr", ln.Addr().String())
	}
	// Sample contended mutexes (1 in 1,000) so the mutex profile has
	// something to show; blocking stays unprofiled (it costs every wait).
	runtime.SetMutexProfileFraction(1000)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	slog.Info("ankurah profiles", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	return srv, nil
}
