// Command openplugin opens its "database" the way a file-backed engine does:
//
//	openplugin FILE KIND
//
// creates FILE, then serves an in-memory engine (KIND "ok"; when FILE
// exists already, as it does when a host restarts the plugin, opening takes
// a second, like a database recovering its log) or fails to
// open with an error of that kind: "format" (storage.ErrFormat), "locked"
// (storage.ErrUnavailable, as a file held by another process) or "plain" (no
// sentinel). Tests use it to check what crosses the boundary when an engine
// fails to open, and that nothing is opened when no host started it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

func main() {
	storageplugin.ServeFunc(func(context.Context) (storage.Engine, error) {
		if len(os.Args) != 3 {
			return nil, fmt.Errorf("%w: usage: openplugin FILE KIND", storage.ErrInvalid)
		}
		_, statErr := os.Stat(os.Args[1])
		if err := os.WriteFile(os.Args[1], []byte("opened\n"), 0o600); err != nil {
			return nil, err
		}
		switch os.Args[2] {
		case "ok":
			if statErr == nil {
				time.Sleep(time.Second)
			}
			return memory.New(), nil
		case "format":
			return nil, fmt.Errorf("openplugin: %s: format version 9, this build reads 1 to 2: %w", os.Args[1], storage.ErrFormat)
		case "locked":
			return nil, fmt.Errorf("%w: openplugin: database locked: %s is held by another process", storage.ErrUnavailable, os.Args[1])
		}
		return nil, errors.New("openplugin: disk on fire")
	})
}
