package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	prommetrics "github.com/ankurah/ankurah-go/plugins/metrics-prometheus"
	rules "github.com/ankurah/ankurah-go/plugins/policy-rules"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

//go:embed index.html
var indexHTML []byte

func serveCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9797", "address to listen on")
	dataDir := fs.String("data-dir", "ankurah-data", "directory of the embedded bolt database (used when --storage is not given)")
	storageURL := fs.String("storage", "", "storage engine URL (default: bolt://DATA-DIR/ankurah.db); bolt://PATH, memory://, postgres://…, tikv://PD,…, plugin:///path?arg=…")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key, serve HTTPS and wss://")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	static := fs.String("static", "", "directory of a built web app to serve at / (compressed by Accept-Encoding: brotli, gzip)")
	origins := fs.String("allowed-origins", "", "comma-separated origin patterns browsers may connect from")
	policyFile := fs.String("policy", "", "rules file (YAML) deciding who may read and write what; without it every caller may do anything")
	modelsDir := fs.String("models", os.Getenv("ANKURAH_MODELS"), "directory of a Go package of //ankurah:model structs (default $ANKURAH_MODELS): the references its core.Ref fields declare are followed by queries (`artist.name = ?`) and includes")
	inspectRole := fs.String("inspect-role", "admin", "with --policy, the role a token must grant to use the inspector at /inspect/ (docs/operations.md)")
	pprofAddr := fs.String("pprof", "", "address of a second listener serving Go's profiles (net/http/pprof) at /debug/pprof/, e.g. 127.0.0.1:6060; keep it on loopback: it has no authentication (docs/operations.md)")
	attribution := fs.Int("attribution", core.DefaultAttributionKeep, "how many of each entity's newest events to record who committed and when, for the inspector (0: none; docs/operations.md)")
	lim := limits.Default()
	fs.Func("limit", "change one of the node's limits, as NAME=VALUE (repeatable; values take KiB/MiB/GiB; names in docs/limits.md: "+strings.Join(limits.Names(), ", ")+")", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("--limit %q: want NAME=VALUE", s)
		}
		return lim.Set(name, value)
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := lim.Validate(); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	var staticHandler http.Handler
	if *static != "" {
		sf, err := newStaticFiles(ctx, *static, slog.Default())
		if err != nil {
			return fmt.Errorf("--static %s: %w", *static, err)
		}
		staticHandler = sf
	}
	var relations []core.Relation
	if *modelsDir != "" {
		schema, err := readModels(*modelsDir)
		if err != nil {
			return fmt.Errorf("--models %s: %w", *modelsDir, err)
		}
		relations = schema.relations()
	}
	if *policyFile != "" {
		if err := checkRulesSecrets(*policyFile); err != nil {
			return err
		}
	}
	if *storageURL == "" {
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		*storageURL = "bolt://" + filepath.Join(*dataDir, "ankurah.db")
	}
	engine, err := openStorage(ctx, *storageURL)
	if err != nil {
		return err
	}
	defer engine.Close()
	metrics := prommetrics.New(nil) // served at /metrics (docs/operations.md)
	engine = metrics.InstrumentEngine(engine)
	var agent policy.Agent = policy.Permissive{}
	if *policyFile != "" {
		ra, err := rules.Open(*policyFile)
		if err != nil {
			return err
		}
		go ra.Watch(ctx, time.Second)
		agent = ra
	} else {
		slog.Warn("no --policy: every caller may read and write everything")
	}
	nodeOpts := []core.Option{core.WithLimits(lim), core.WithMetrics(metrics), core.WithAttribution(*attribution)}
	if sharable(*storageURL) {
		// Several servers may share this store: follow its change feed so
		// each hears of the others' commits.
		if _, ok := engine.(storage.ChangeFeed); ok {
			nodeOpts = append(nodeOpts, core.WithSharedStorage())
			slog.Info("following the storage's change feed: servers sharing this store see each other's commits live")
		} else {
			slog.Warn("this storage can be shared by several servers, but its engine has no change feed: run one server per store, or live queries miss other servers' commits")
		}
	}
	node, err := core.NewNode(ctx, engine, agent, nodeOpts...)
	if err != nil {
		return err
	}
	defer node.Close()
	if err := node.DeclareRelations(relations...); err != nil {
		return fmt.Errorf("--models %s: %w", *modelsDir, err)
	}
	for _, r := range relations {
		slog.Info("relation declared", "collection", r.Collection, "property", r.Property, "target", r.Target)
	}
	if err := metrics.CollectNode(node); err != nil {
		return err
	}
	var wsOpts []ws.ServerOption
	if *origins != "" {
		wsOpts = append(wsOpts, ws.WithAllowedOrigins(splitComma(*origins)...))
	}
	mux := http.NewServeMux()
	wsServer := ws.NewServer(node, wsOpts...)
	mux.Handle("/ws", wsServer)
	mux.Handle("/metrics", metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// An engine that can tell (a storage plugin restarting its process)
		// makes the server unhealthy while it cannot serve.
		if h, ok := engine.(storage.Healther); ok {
			if err := h.Health(r.Context()); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "{\"status\":\"unavailable\",\"system_id\":%q,\"storage\":%q}\n", node.SystemID(), err.Error())
				return
			}
		}
		fmt.Fprintf(w, "{\"status\":\"ok\",\"system_id\":%q}\n", node.SystemID())
	})
	registerInspector(ctx, mux, node, engine, agent, *inspectRole, *static) // /inspect/ (inspect.go)
	if staticHandler != nil {
		mux.Handle("/", staticHandler)
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(indexHTML)
		})
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Hijacked websocket connections are not closed by Shutdown: tell their
	// clients why they end.
	srv.RegisterOnShutdown(func() { wsServer.Close() })
	scheme, wsScheme := "http", "ws"
	if *tlsCert != "" {
		scheme, wsScheme = "https", "wss"
	}
	slog.Info("ankurah serving", "url", fmt.Sprintf("%s://%s/", scheme, ln.Addr()), "ws", fmt.Sprintf("%s://%s/ws", wsScheme, ln.Addr()), "storage", *storageURL, "system_id", node.SystemID())
	errc := make(chan error, 2)
	if *pprofAddr != "" {
		psrv, err := startPprof(*pprofAddr, errc)
		if err != nil {
			return fmt.Errorf("--pprof %s: %w", *pprofAddr, err)
		}
		defer psrv.Close()
	}
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}
}

// sharable reports whether a storage URL names a store several server
// processes can open at once (a database server, not a file or memory).
func sharable(url string) bool {
	for _, p := range []string{"postgres://", "postgresql://", "tikv://"} {
		if strings.HasPrefix(url, p) {
			return true
		}
	}
	return false
}
