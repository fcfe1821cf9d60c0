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
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ankurah/ankurah-go/core/storage"
	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
)

// ProtocolVersion is the newest storage plugin protocol this package speaks
// (proto/storage/v1). Hosts and plugins negotiate the highest version both
// speak during the go-plugin handshake.
const ProtocolVersion = 1

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

// grpcPlugin is the go-plugin glue of protocol version 1.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	engine storage.Engine // plugin side only
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	storagev1.RegisterStorageServer(s, newServer(p.engine, fmt.Sprintf("%T", p.engine)))
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return storagev1.NewStorageClient(c), nil
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
// a newer format, a locked file): open runs after logging is set up, and if
// it fails the host's Open fails with its error, sentinels intact
// (errors.Is(err, storage.ErrFormat)).
func ServeFunc(open func(ctx context.Context) (storage.Engine, error)) {
	stderr := os.Stderr // go-plugin redirects os.Stderr; logs go to the real one
	slog.SetDefault(slog.New(pluginLogHandler(stderr)))
	engine, err := open(context.Background())
	if err != nil {
		slog.Error("storage plugin: opening the engine failed", "error", err)
		engine = failedEngine{err}
	}
	go exitWithHost(os.Getppid(), engine)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {pluginName: &grpcPlugin{engine: engine}},
		},
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
