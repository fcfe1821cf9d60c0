//go:build js

package main

import (
	"context"
	"log/slog"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

func main() {
	node, err := core.NewNode(memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		panic(err)
	}
	_, err = ws.Dial(context.Background(), "ws://127.0.0.1/ws", node)
	slog.Info("dial", "err", err)
	select {}
}
