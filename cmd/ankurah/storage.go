package main

import (
	"context"
	"fmt"
	neturl "net/url"
	"strings"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
	postgres "github.com/ankurah/ankurah-go/plugins/storage-postgres"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// openStorage opens the engine a storage URL names.
func openStorage(ctx context.Context, url string) (storage.Engine, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("storage %q: want SCHEME://…, one of bolt://PATH, memory://, postgres://…, tikv://PD[,PD…], plugin://PATH", url)
	}
	switch scheme {
	case "bolt":
		if rest == "" {
			return nil, fmt.Errorf("storage %q: bolt:// needs a file path", url)
		}
		return bolt.Open(ctx, rest)
	case "memory":
		return memory.New(), nil
	case "postgres", "postgresql":
		return postgres.Open(ctx, url)
	case "tikv":
		if rest == "" {
			return nil, fmt.Errorf("storage %q: tikv:// needs PD addresses", url)
		}
		return tikv.OpenURL(ctx, url)
	case "plugin":
		// plugin:///path/to/binary?arg=data.db&arg=… passes arguments to the plugin.
		path, query, _ := strings.Cut(rest, "?")
		if path == "" {
			return nil, fmt.Errorf("storage %q: plugin:// needs the plugin binary's path", url)
		}
		vals, err := neturl.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("storage %q: %w", url, err)
		}
		return storageplugin.Open(ctx, path, storageplugin.WithArgs(vals["arg"]...))
	}
	return nil, fmt.Errorf("storage %q: unknown scheme %q", url, scheme)
}
