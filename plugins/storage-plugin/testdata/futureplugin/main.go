// Command futureplugin completes the storage plugin handshake but speaks only
// protocol version 99, which no host speaks yet: Open must refuse it and
// name both versions.
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

type future struct{ plugin.NetRPCUnsupportedPlugin }

func (future) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (future) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  storageplugin.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{99: {"storage": future{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
