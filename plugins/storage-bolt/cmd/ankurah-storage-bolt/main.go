// Command ankurah-storage-bolt serves the bolt storage engine as a storage
// plugin:
//
//	ankurah-storage-bolt PATH
//
// opens (or creates) the bolt database file at PATH and serves it until the
// host closes it. A host starts it with storageplugin.Open(ctx,
// "ankurah-storage-bolt", storageplugin.WithArgs(path)), or `ankurah serve
// --storage 'plugin:///path/to/ankurah-storage-bolt?arg=PATH'`.
//
// It is a module of its own, so that neither the bolt engine's users get
// gRPC nor the plugin library's users get bbolt.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/ankurah/ankurah-go/core/storage"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

func main() {
	// Run by hand, ServeFunc explains that this is a plugin before anything
	// below opens (and creates) the file.
	storageplugin.ServeFunc(func(ctx context.Context) (storage.Engine, error) {
		if len(os.Args) != 2 {
			return nil, fmt.Errorf("%w: usage: ankurah-storage-bolt PATH (started by a host through storageplugin.Open)", storage.ErrInvalid)
		}
		e, err := bolt.Open(ctx, os.Args[1], bolt.WithLogger(slog.Default()))
		if errors.Is(err, bolt.ErrLocked) {
			// Another process holds the file: a condition that passes, which
			// the host sees as storage.ErrUnavailable with bolt's message.
			return nil, fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return e, err
	})
}
