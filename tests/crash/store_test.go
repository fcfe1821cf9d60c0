package crash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	postgres "github.com/ankurah/ankurah-go/plugins/storage-postgres"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens the server's store in this process, as the next server
// would (the server must not be running on a bolt file).
func openStore(ctx context.Context, storageURL string) (storage.Engine, error) {
	scheme, rest, _ := strings.Cut(storageURL, "://")
	switch scheme {
	case "bolt":
		return bolt.Open(ctx, rest, bolt.WithLockTimeout(10*time.Second), bolt.WithLogger(quiet))
	case "postgres":
		return postgres.Open(ctx, storageURL, postgres.WithLogger(quiet))
	}
	return nil, fmt.Errorf("no store for %q", storageURL)
}

// contents is what a store holds of the crash collection: how many entities
// carry each key.
type contents map[key]int

// readStore opens the store, reads every entity of the collection and, with
// badRows, looks for undecodable rows; it closes the store before returning.
func readStore(ctx context.Context, storageURL string, badRows bool) (contents, error) {
	e, err := openStore(ctx, storageURL)
	if err != nil {
		return nil, fmt.Errorf("the store does not open: %w", err)
	}
	defer e.Close()
	coll, err := e.Collection(ctx, collection)
	if err != nil {
		return nil, fmt.Errorf("collection %q: %w", collection, err)
	}
	all, err := query.ParseBound("true")
	if err != nil {
		return nil, err
	}
	states, err := coll.FetchStates(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", collection, err)
	}
	got, err := keysOf(states)
	if err != nil {
		return nil, err
	}
	if r, ok := e.(storage.Repairer); ok && badRows {
		var bad []string
		err := r.BadRows(ctx, collection, func(b storage.BadRow) error {
			bad = append(bad, fmt.Sprintf("%s %x: %v", b.Kind, b.Key, b.Err))
			return nil
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("looking for bad rows: %w", err)
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("%d undecodable rows in %q, the first: %s", len(bad), collection, bad[0])
		}
	}
	return got, nil
}

func keysOf(states []entity.State) (contents, error) {
	got := contents{}
	for _, st := range states {
		w, ok1 := st.Values.Get("w").AsInt()
		seq, ok2 := st.Values.Get("seq").AsInt()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("entity %s holds w=%v seq=%v, want two ints", st.ID, st.Values.Get("w"), st.Values.Get("seq"))
		}
		got[key{w, seq}]++
	}
	return got, nil
}

// fetchThroughServer reads, through a fresh ephemeral client (nothing
// cached), which of want the server has; it returns the keys it found.
func fetchThroughServer(ctx context.Context, url string, want map[key]outcome) (map[key]bool, error) {
	found := map[key]bool{}
	if len(want) == 0 {
		return found, nil
	}
	type window struct{ lo, hi int64 }
	windows := map[int64]window{} // per writer, the seqs wanted
	for k := range want {
		wd, ok := windows[k.w]
		if !ok {
			wd = window{k.seq, k.seq}
		}
		windows[k.w] = window{min(wd.lo, k.seq), max(wd.hi, k.seq)}
	}
	n, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral), core.WithLogger(quiet))
	if err != nil {
		return nil, err
	}
	defer n.Close()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := ws.Dial(dctx, url, n, ws.WithClientLogger(quiet))
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return nil, err
	}
	for w, wd := range windows {
		views, err := n.Context(nil).Fetch(dctx, collection, "w = ? AND seq >= ? AND seq <= ?", w, wd.lo, wd.hi)
		if err != nil {
			return found, err
		}
		for _, v := range views {
			seq, _ := v.Get("seq").AsInt()
			if _, ok := want[key{w, seq}]; ok {
				found[key{w, seq}] = true
			}
		}
	}
	return found, nil
}
