package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ankurah/ankurah-go/plugins/storage-postgres/pgtest"
)

// peer is one system under test: how its server starts and how its client
// processes are run.
type peer struct {
	name    string
	version string
	notes   string
	// startServer starts a fresh, empty server bound to 127.0.0.1.
	startServer func(ctx context.Context, b *bench) (*server, error)
	// argv is the command line of a client process, before MODE CFG-JSON.
	argv func(b *bench) []string
}

// server is a running server process and what its clients need to reach it.
type server struct {
	proc    *proc
	cfg     map[string]any
	cleanup func()
}

func (s *server) pid() int { return s.proc.cmd.Process.Pid }

func (s *server) stop() {
	s.proc.stop(3 * time.Second)
	if s.cleanup != nil {
		s.cleanup()
	}
}

// client starts one client process of p in mode with cfg.
func (b *bench) client(p *peer, name, mode string, cfg map[string]any) (*proc, error) {
	j, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return start(p.name+"-"+name, append(p.argv(b), mode, string(j)), nil, "")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitPort polls until 127.0.0.1:port accepts connections, within d.
func waitPort(ctx context.Context, p *proc, port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%w %s exited before listening: %s", ErrChild, p.name, p.stderrTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%w %s: port %d not listening after %v: %s", ErrChild, p.name, port, d, p.stderrTail())
}

// ---------------------------------------------------------------- ankurah-go

// ankurahPeer is `ankurah serve` on one storage engine, with Go clients
// (this binary's client modes).
func ankurahPeer(engine string) *peer {
	return &peer{
		name:  "ankurah-go (" + engine + ")",
		notes: "server: ankurah serve on " + engine + "; clients: Go ephemeral nodes (memory store, transport-ws), one node and connection each; subscribers Query(\"kind = 'hit'\") filtered on the server; BS1 Query('true')",
		startServer: func(ctx context.Context, b *bench) (*server, error) {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			dir, err := os.MkdirTemp("", "peerbench-ankurah-")
			if err != nil {
				return nil, err
			}
			cleanup := func() { os.RemoveAll(dir) }
			args := []string{b.ankurahBin, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port)}
			switch engine {
			case "memory":
				args = append(args, "--storage", "memory://")
			case "bolt":
				args = append(args, "--storage", "bolt://"+filepath.Join(dir, "ankurah.db"))
			case "postgres":
				u, drop, err := b.postgresDB(ctx)
				if err != nil {
					cleanup()
					return nil, err
				}
				args = append(args, "--storage", u)
				cleanup = func() { drop(); os.RemoveAll(dir) }
			}
			p, err := start("ankurah-serve", args, nil, dir)
			if err != nil {
				cleanup()
				return nil, err
			}
			s := &server{proc: p, cfg: map[string]any{"url": fmt.Sprintf("ws://127.0.0.1:%d/ws", port)}, cleanup: cleanup}
			if err := waitPort(ctx, p, port, 60*time.Second); err != nil {
				s.stop()
				return nil, err
			}
			return s, nil
		},
		argv: func(b *bench) []string { return []string{b.self, "client"} },
	}
}

var dbSeq atomic.Int64

// postgresDB makes a fresh database on the throwaway PostgreSQL server
// (started on first use) and returns its URL and a func dropping it.
func (b *bench) postgresDB(ctx context.Context) (string, func(), error) {
	if b.pgURL == "" {
		if u := os.Getenv("PG_TEST_URL"); u != "" {
			b.pgURL = u
		} else {
			srv, err := pgtest.Start(ctx)
			if err != nil {
				return "", nil, fmt.Errorf("PostgreSQL: %w", err)
			}
			b.pgStop = func() { _ = srv.Stop() }
			b.pgURL = srv.URL
		}
	}
	name := fmt.Sprintf("peerbench_%d_%d", os.Getpid(), dbSeq.Add(1))
	exec := func(sql string) error {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, b.pgURL)
		if err != nil {
			return err
		}
		defer conn.Close(cctx)
		_, err = conn.Exec(cctx, sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		return "", nil, fmt.Errorf("PostgreSQL: CREATE DATABASE: %w", err)
	}
	u, err := url.Parse(b.pgURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() { _ = exec("DROP DATABASE " + name + " WITH (FORCE)") }, nil
}

// ---------------------------------------------------------------- npm peers

// nodePeer is an npm peer whose client processes run _js/<script>.
func nodePeer(name, script string, nodeFlags []string, notes string, srv func(ctx context.Context, b *bench, port int) (*proc, map[string]any, func(), error)) *peer {
	return &peer{
		name:  name,
		notes: notes,
		startServer: func(ctx context.Context, b *bench) (*server, error) {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			p, cfg, cleanup, err := srv(ctx, b, port)
			if err != nil {
				return nil, err
			}
			return &server{proc: p, cfg: merge(map[string]any{"port": port}, cfg), cleanup: cleanup}, nil
		},
		argv: func(b *bench) []string {
			return append(append([]string{b.node}, nodeFlags...), filepath.Join(b.jsDir, script))
		},
	}
}

// scriptServer runs `node _js/<script> server {"port":P}`, which answers
// {"type":"listening", ...} with anything its clients need.
func scriptServer(script string, nodeFlags ...string) func(ctx context.Context, b *bench, port int) (*proc, map[string]any, func(), error) {
	return func(ctx context.Context, b *bench, port int) (*proc, map[string]any, func(), error) {
		argv := append(append([]string{b.node}, nodeFlags...), filepath.Join(b.jsDir, script), "server", fmt.Sprintf(`{"port":%d}`, port))
		p, err := start(strings.TrimSuffix(script, ".mjs")+"-server", argv, nil, "")
		if err != nil {
			return nil, nil, nil, err
		}
		m, err := p.wait(ctx, "listening", 60*time.Second)
		if err != nil {
			p.stop(time.Second)
			return nil, nil, nil, err
		}
		delete(m, "type")
		return p, m, nil, nil
	}
}

func npmPeers() []*peer {
	return []*peer{
		nodePeer("yjs", "yjs.mjs", nil,
			"y-websocket's bin/server.js (no persistence); one Y.Doc with a Y.Map; writes ymap.set per doc; subscribers own Y.Doc + WebsocketProvider, observe + client-side filter",
			func(ctx context.Context, b *bench, port int) (*proc, map[string]any, func(), error) {
				p, err := start("y-websocket-server", []string{b.node, filepath.Join(b.jsDir, "node_modules/y-websocket/bin/server.js")},
					[]string{"HOST=127.0.0.1", "PORT=" + strconv.Itoa(port)}, "")
				if err != nil {
					return nil, nil, nil, err
				}
				if err := waitPort(ctx, p, port, 60*time.Second); err != nil {
					p.stop(time.Second)
					return nil, nil, nil, err
				}
				return p, nil, nil, nil
			}),
		nodePeer("rxdb", "rxdb.mjs", nil,
			"server: RxDatabase (memory) + startWebsocketServer; clients: RxDatabase (memory) + replicateWithWebsocketServer; subscribers find({selector}).$ (whole collection replicated)",
			scriptServer("rxdb.mjs")),
		nodePeer("triplit", "triplit.mjs", []string{"--experimental-websocket"},
			"server: @triplit/server Hono app (memory) on 127.0.0.1; clients: TriplitClient (memory); subscribers subscribe(Where kind = hit), filtered on the server",
			scriptServer("triplit.mjs", "--experimental-websocket")),
		nodePeer("pouchdb", "pouchdb.mjs", nil,
			"pouchdb-server --in-memory; writer puts over HTTP; subscribers memory PouchDB live pull replication + local changes({selector}) (misses replicated too)",
			func(ctx context.Context, b *bench, port int) (*proc, map[string]any, func(), error) {
				dir, err := os.MkdirTemp("", "peerbench-pouchdb-") // it writes config.json and log.txt into its cwd
				if err != nil {
					return nil, nil, nil, err
				}
				cleanup := func() { os.RemoveAll(dir) }
				p, err := start("pouchdb-server", []string{b.node, filepath.Join(b.jsDir, "node_modules/pouchdb-server/bin/pouchdb-server"),
					"--in-memory", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--no-stdout-logs"}, nil, dir)
				if err != nil {
					cleanup()
					return nil, nil, nil, err
				}
				fail := func(err error) (*proc, map[string]any, func(), error) {
					p.stop(time.Second)
					cleanup()
					return nil, nil, nil, err
				}
				if err := waitPort(ctx, p, port, 60*time.Second); err != nil {
					return fail(err)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("http://127.0.0.1:%d/bench", port), nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return fail(err)
				}
				resp.Body.Close()
				if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusPreconditionFailed {
					return fail(fmt.Errorf("pouchdb-server: PUT /bench: %s", resp.Status))
				}
				return p, nil, cleanup, nil
			}),
		nodePeer("automerge-repo", "automerge.mjs", nil,
			"server: Repo + NodeWSServerAdapter, one doc; writes handle.change per doc; subscribers own Repo, 'change' + client-side filter; syncDebounceRate library default (100 ms)",
			scriptServer("automerge.mjs")),
	}
}

// npmVersion reads an installed package's version from _js/node_modules.
func (b *bench) npmVersion(pkgs ...string) string {
	var out []string
	for _, p := range pkgs {
		v := "?"
		if raw, err := os.ReadFile(filepath.Join(b.jsDir, "node_modules", p, "package.json")); err == nil {
			var m struct{ Version string }
			if json.Unmarshal(raw, &m) == nil {
				v = m.Version
			}
		}
		out = append(out, p+"@"+v)
	}
	return strings.Join(out, " ")
}
