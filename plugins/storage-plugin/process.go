package storageplugin

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	storagev1 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v1"
	storagev2 "github.com/ankurah/ankurah-go/plugins/storage-plugin/proto/storage/v2"
)

// coreClient is the part of the service both protocol versions share (the
// version 2 service declares version 1's calls with version 1's messages).
type coreClient interface {
	OpenCollection(ctx context.Context, in *storagev1.OpenCollectionRequest, opts ...grpc.CallOption) (*storagev1.OpenCollectionResponse, error)
	Apply(ctx context.Context, in *storagev1.ApplyRequest, opts ...grpc.CallOption) (*storagev1.ApplyResponse, error)
	GetState(ctx context.Context, in *storagev1.GetStateRequest, opts ...grpc.CallOption) (*storagev1.GetStateResponse, error)
	FetchStates(ctx context.Context, in *storagev1.FetchStatesRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[storagev1.StatesChunk], error)
	GetEvents(ctx context.Context, in *storagev1.GetEventsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[storagev1.EventsChunk], error)
	EntityEvents(ctx context.Context, in *storagev1.EntityEventsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[storagev1.EventsChunk], error)
	DeclareIndex(ctx context.Context, in *storagev1.DeclareIndexRequest, opts ...grpc.CallOption) (*storagev1.DeclareIndexResponse, error)
	Close(ctx context.Context, in *storagev1.CloseRequest, opts ...grpc.CallOption) (*storagev1.CloseResponse, error)
}

var (
	_ coreClient = storagev1.NewStorageClient(nil)
	_ coreClient = storagev2.NewStorageClient(nil)
)

// process is one running plugin process and what its Describe said. It does
// not change once started; a restart makes a new one.
type process struct {
	client         *plugin.Client
	kill           func()
	rpc            coreClient
	v2             storagev2.StorageClient // nil at protocol version 1
	health         healthpb.HealthClient
	version        int
	engine         string
	caps           caps
	candidatesOnly bool
}

// startProcess starts the plugin binary, completes the handshake and calls
// Describe. An error of the engine's Open comes back as it was sent.
func startProcess(ctx context.Context, abs string, o *options, logger *slog.Logger) (*process, error) {
	startTimeout := o.startTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < startTimeout {
		startTimeout = max(time.Until(dl), time.Millisecond)
	}
	cmd := exec.Command(abs, o.args...)
	cmd.Env = append(cmd.Environ(), o.env...)
	stdout, stderr := lineLogger(logger, "stdout"), lineLogger(logger, "stderr")
	tail := &tailBuffer{max: 2048}
	versions := map[int]plugin.PluginSet{}
	for _, v := range o.versions {
		versions[v] = plugin.PluginSet{pluginName: &grpcPlugin{version: v}}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: versions,
		Cmd:              cmd,
		Stderr:           tail,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLogAdapter(o.logger),
		StartTimeout:     startTimeout,
		SyncStdout:       stdout,
		SyncStderr:       stderr,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))},
	})

	type started struct {
		rpc plugin.ClientProtocol
		err error
	}
	done := make(chan started, 1)
	go func() {
		rpc, err := client.Client()
		done <- started{rpc, err}
	}()
	kill := func() {
		client.Kill()
		_ = stdout.Close()
		_ = stderr.Close()
	}
	var st started
	select {
	case st = <-done:
	case <-ctx.Done():
		kill()
		<-done
		return nil, fmt.Errorf("storageplugin: starting %s: %w", abs, context.Cause(ctx))
	}
	if st.err != nil {
		kill()
		return nil, startError(abs, st.err, tail.String(), o.versions)
	}
	raw, err := st.rpc.Dispense(pluginName)
	if err != nil {
		kill()
		return nil, fmt.Errorf("%w: %s: %v", ErrProtocol, abs, err)
	}
	conn := raw.(*grpc.ClientConn)
	p := &process{client: client, kill: kill, version: client.NegotiatedVersion(), health: healthpb.NewHealthClient(conn)}
	cctx, cancel := callCtx(ctx, o.callTimeout)
	defer cancel()
	switch p.version {
	case 1:
		c := storagev1.NewStorageClient(conn)
		p.rpc = c
		desc, err := c.Describe(cctx, &storagev1.DescribeRequest{})
		if err != nil {
			err = fromStatus(abs, p, cctx, "Describe", err)
			kill()
			return nil, err
		}
		p.engine, p.candidatesOnly = desc.Engine, desc.CandidatesOnly
		if desc.Indexer {
			p.caps = capsIndexer
		}
	default:
		c := storagev2.NewStorageClient(conn)
		p.rpc, p.v2 = c, c
		desc, err := c.Describe(cctx, &storagev2.DescribeRequest{})
		if err != nil {
			err = fromStatus(abs, p, cctx, "Describe", err)
			kill()
			return nil, err
		}
		p.engine, p.candidatesOnly, p.caps = desc.Engine, desc.CandidatesOnly, parseCaps(desc.Capabilities)
	}
	logger.Debug("storage plugin started", "engine", p.engine, "protocol", p.version, "pid", client.ID(),
		"candidates_only", p.candidatesOnly, "capabilities", p.caps.names())
	return p, nil
}

// absPath resolves a plugin binary's path once, so a restart runs the same file.
func absPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("storageplugin: plugin path %q: %w", path, err)
	}
	return abs, nil
}
