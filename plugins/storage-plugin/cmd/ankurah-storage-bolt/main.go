// Command ankurah-storage-bolt serves the bolt storage engine as a storage
// plugin:
//
//	ankurah-storage-bolt PATH
//
// opens (or creates) the bolt database file at PATH and serves it until the
// host closes it. A host starts it with storageplugin.Open(ctx,
// "ankurah-storage-bolt", storageplugin.WithArgs(path)).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/ankurah/ankurah-go/core/storage"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ankurah-storage-bolt PATH (started by a host through storageplugin.Open)")
		os.Exit(2)
	}
	// An open error (storage.ErrFormat for a file of a newer format, a lock
	// held by another process) is returned by the host's Open.
	storageplugin.ServeFunc(func(ctx context.Context) (storage.Engine, error) {
		return bolt.Open(ctx, os.Args[1], bolt.WithLogger(slog.Default()))
	})
}
