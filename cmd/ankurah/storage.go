package main

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
	postgres "github.com/ankurah/ankurah-go/plugins/storage-postgres"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

// storageOpenTimeout bounds connecting to a storage server: a wrong address
// fails with a message instead of retrying forever.
var storageOpenTimeout = 15 * time.Second

// ErrStorageTimeout: a storage server did not answer within storageOpenTimeout.
var ErrStorageTimeout = errors.New("storage did not answer")

// withOpenTimeout opens an engine on a server, giving up after
// storageOpenTimeout with an error naming what did not answer.
func withOpenTimeout(ctx context.Context, url, what string, open func(context.Context) (storage.Engine, error)) (storage.Engine, error) {
	octx, cancel := context.WithTimeout(ctx, storageOpenTimeout)
	defer cancel()
	e, err := open(octx)
	if err != nil && ctx.Err() == nil && octx.Err() != nil {
		return nil, fmt.Errorf("storage %s: %w within %v: is %s reachable? (%v)", redactURL(url), ErrStorageTimeout, storageOpenTimeout, what, err)
	}
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", redactURL(url), err)
	}
	return e, nil
}

// redactURL hides a password in a storage URL, for messages and logs.
func redactURL(u string) string {
	if p, err := neturl.Parse(u); err == nil && p.User != nil {
		if _, has := p.User.Password(); has {
			return p.Redacted()
		}
	}
	return u
}

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
		return withOpenTimeout(ctx, url, "the PostgreSQL server", func(ctx context.Context) (storage.Engine, error) {
			return postgres.Open(ctx, url)
		})
	case "tikv":
		if rest == "" {
			return nil, fmt.Errorf("storage %q: tikv:// needs PD addresses", url)
		}
		return withOpenTimeout(ctx, url, "the TiKV cluster's PD at "+strings.SplitN(rest, "?", 2)[0], func(ctx context.Context) (storage.Engine, error) {
			return tikv.OpenURL(ctx, url)
		})
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
