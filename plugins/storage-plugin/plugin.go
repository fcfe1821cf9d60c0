// Package storageplugin runs any storage.Engine out of process: a plugin
// binary serves its engine with Serve, and a host opens it with Open, which
// returns a storage.Engine that behaves like the in-process one — the same
// results, the same sentinel errors (storage.ErrNotFound, ErrConflict, …)
// through errors.Is.
//
// It is built on hashicorp/go-plugin over gRPC: a magic-cookie handshake,
// a negotiated protocol version (VersionedPlugins), the plugin's stderr
// logged through the host's slog. Batches cross in one call, FetchStates
// results stream in chunks; states, events and selections cross as
// canonical CBOR (docs/storage-plugin-protocol.md has the service and the
// CDDL, enough to write a plugin in another language).
package storageplugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
	storagev2 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v2"
)

// ProtocolVersion is the newest storage plugin protocol this package speaks
// (proto/storage/v2); it also speaks every older one, down to 1. Hosts and
// plugins negotiate the highest version both speak during the go-plugin
// handshake.
const ProtocolVersion = 2

// The magic cookie: a plugin refuses to start unless its host set it, so a
// user who runs a plugin binary by hand gets an explanation instead of a
// hung process. It is a UX check, not a security measure.
const (
	MagicCookieKey   = "ANKURAH_STORAGE_PLUGIN"
	MagicCookieValue = "d1c5a3f0-ankurah-storage"
)

// pluginName is the name of the one plugin in each version's plugin set.
const pluginName = "storage"

// maxMessageSize bounds one gRPC message (an Apply batch) in both directions.
const maxMessageSize = 256 << 20

// Handshake is the go-plugin handshake of storage plugins. ProtocolVersion
// is left zero: versions are negotiated through VersionedPlugins.
var Handshake = plugin.HandshakeConfig{
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// grpcPlugin is the go-plugin glue of one protocol version.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	version int
	engine  storage.Engine // plugin side only
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	srv := newServer(p.engine, fmt.Sprintf("%T", p.engine), p.version)
	if p.version == 1 {
		storagev1.RegisterStorageServer(s, serverV1{server: srv})
	} else {
		storagev2.RegisterStorageServer(s, serverV2{server: srv})
	}
	return nil
}

// GRPCClient returns the connection: the host makes the client of the
// version the handshake negotiated.
func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

// Serve serves engine to the host that started this process and returns
// when the host is done with it, closing the engine (or exits the process
// if it was not started by a host). Call it from a plugin's main. The
// process's slog default logger is set to write to its stderr in the form
// go-plugin forwards to the host's slog (ANKURAH_PLUGIN_LOG_LEVEL=debug for
// more).
func Serve(engine storage.Engine) {
	ServeFunc(func(context.Context) (storage.Engine, error) { return engine, nil })
}

// ServeFunc is Serve for an engine that may fail to open (a database file in
// a newer format, a locked file): open runs once a host is known to have
// started the process and logging is set up, and if it fails the host's Open
// fails with its error, message and sentinels intact (errors.Is(err,
// storage.ErrFormat)). Run by hand, the process explains that it is a plugin
// and exits with status 1 before calling open, so it creates nothing.
func ServeFunc(open func(ctx context.Context) (storage.Engine, error)) {
	stderr := os.Stderr // go-plugin redirects os.Stderr; logs go to the real one
	if os.Getenv(MagicCookieKey) != MagicCookieValue {
		fmt.Fprintf(stderr, "%s is an ankurah storage plugin: a host starts it (storageplugin.Open,\n"+
			"ankurah serve --storage 'plugin:///path/to/it?arg=…', ankurah-conformance storage --plugin);\n"+
			"it does nothing when run by hand.\n", filepath.Base(os.Args[0]))
		os.Exit(1)
	}
	slog.SetDefault(slog.New(pluginLogHandler(stderr)))
	engine, err := open(context.Background())
	if err != nil {
		slog.Error("storage plugin: opening the engine failed", "error", err)
		engine = failedEngine{err}
	}
	go exitWithHost(os.Getppid(), engine)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: servedVersions(engine),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "storage-plugin",
			Output:     stderr,
			JSONFormat: true,
			Level:      hclog.Info,
		}),
	})
	// The host is gone or done: release what the engine holds (a file lock,
	// for bolt). It may already be closed.
	_ = engine.Close()
}

// servedVersions are the protocol versions a plugin offers: every version
// this package speaks, or those ANKURAH_STORAGE_PLUGIN_VERSIONS lists
// (comma-separated), so a test can stand in for a plugin built before a
// version existed.
func servedVersions(engine storage.Engine) map[int]plugin.PluginSet {
	out := map[int]plugin.PluginSet{}
	for v := 1; v <= ProtocolVersion; v++ {
		out[v] = plugin.PluginSet{pluginName: &grpcPlugin{version: v, engine: engine}}
	}
	if only := os.Getenv(VersionsEnv); only != "" {
		keep := map[int]plugin.PluginSet{}
		for _, f := range strings.Split(only, ",") {
			if v, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && out[v] != nil {
				keep[v] = out[v]
			}
		}
		out = keep
	}
	return out
}

// VersionsEnv, when set in a plugin's environment (WithEnv), limits the
// protocol versions the plugin serves to those it lists, comma-separated.
const VersionsEnv = "ANKURAH_STORAGE_PLUGIN_VERSIONS"

// failedEngine is served in place of an engine that failed to open: the
// host's Describe, and so its Open, fails with the open error.
type failedEngine struct{ err error }

func (f failedEngine) Collection(context.Context, string) (storage.Collection, error) {
	return nil, f.err
}
func (f failedEngine) Apply(context.Context, *storage.Batch) error { return f.err }
func (f failedEngine) Close() error                                { return nil }

// exitWithHost ends the plugin when its host dies without closing it (killed,
// crashed): the process is then re-parented, and an orphaned plugin would
// hold its engine (a bolt file lock) forever. It closes the engine first.
func exitWithHost(ppid int, engine storage.Engine) {
	for {
		time.Sleep(parentPollInterval)
		if os.Getppid() != ppid {
			slog.Warn("storage plugin: the host process is gone; closing the engine and exiting")
			_ = engine.Close()
			os.Exit(3)
		}
	}
}

// parentPollInterval is how often a plugin checks that its host is alive.
const parentPollInterval = time.Second
