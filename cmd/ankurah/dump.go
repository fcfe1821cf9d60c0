package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

const dumpUsage = `usage:
  ankurah dump [--data-dir ankurah-data | --storage URL] [--collection NAME]... FILE
  ankurah load [--data-dir ankurah-data | --storage URL] FILE

dump writes every collection's entity states and events to FILE (- for
standard output; a name ending in .gz is gzip-compressed); load writes them
into a storage, which may be another engine. Loading the same file again
changes nothing; an entity that exists with another state is refused.
The format is documented in docs/dump-format.md. Stop ankurah serve first
when its storage is a bolt file (one process at a time).
`

// dumpCmd runs `ankurah dump`.
func dumpCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("dump", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, dumpUsage, "\nflags:\n"); f.fs.PrintDefaults() }
	var only []string
	f.fs.Func("collection", "dump only this collection (repeatable; needed for storage that cannot list its collections)", func(s string) error {
		only = append(only, s)
		return nil
	})
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() != 1 {
		f.fs.Usage()
		return fmt.Errorf("dump: want one FILE (- for standard output), got %d arguments", f.fs.NArg())
	}
	e, url, err := f.openExisting(ctx)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	defer e.Close()
	path := f.fs.Arg(0)
	w, closeOut, err := createDumpFile(path, stdout)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	counts, err := dumpEngine(ctx, e, only, w, newProgress(stderr))
	if cerr := closeOut(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if path != "-" {
			os.Remove(path)
		}
		return fmt.Errorf("dump: %w", err)
	}
	fmt.Fprintf(stderr, "dumped %d entities and %d events of %d collections from %s to %s\n",
		counts.Entities, counts.Events, counts.Collections, url, path)
	return nil
}

// createDumpFile opens path for writing (stdout for "-"), gzip-compressed
// when the name ends in .gz. close flushes and closes it.
func createDumpFile(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, f.Close, nil
	}
	zw := gzip.NewWriter(f)
	return zw, func() error { return errors.Join(zw.Close(), f.Close()) }, nil
}

// everything selects every state of a collection, deleted ones included.
var everything = func() *query.Bound {
	b, err := query.ParseBound("true")
	if err != nil {
		panic(err)
	}
	return b
}()

// dumpEngine writes the collections of e (only those named in only, when
// given) to w in the dump format, collections and entities in byte order
// and each entity's events by id, so equal stores give equal files.
func dumpEngine(ctx context.Context, e storage.Engine, only []string, w io.Writer, p *progress) (dumpCounts, error) {
	var counts dumpCounts
	names := slices.Clone(only)
	if len(names) == 0 {
		l, ok := e.(storage.CollectionLister)
		if !ok {
			return counts, errors.New("this storage cannot list its collections: name them with --collection")
		}
		var err error
		if names, err = l.Collections(ctx); err != nil {
			return counts, fmt.Errorf("listing collections: %w", err)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	// The system collection goes first, so a load into a store of another
	// system stops before it writes anything.
	if i := slices.Index(names, core.SystemCollection); i > 0 {
		names = slices.Insert(slices.Delete(names, i, i+1), 0, core.SystemCollection)
	}
	dw, err := newDumpWriter(w)
	if err != nil {
		return counts, err
	}
	for _, name := range names {
		c, err := lookupCollection(ctx, e, name)
		if err != nil {
			return counts, err
		}
		states, err := c.FetchStates(ctx, everything)
		if err != nil {
			return counts, fmt.Errorf("collection %s: reading states: %w", printable(name), err)
		}
		slices.SortFunc(states, func(a, b entity.State) int { return bytes.Compare(a.ID[:], b.ID[:]) })
		if err := dw.write(dumpRecord{Collection: name, Entities: int64(len(states))}); err != nil {
			return counts, err
		}
		counts.Collections++
		p.start("dump "+name, "entities", int64(len(states)))
		for i := range states {
			n, err := dumpEntity(ctx, dw, c, &states[i])
			if err != nil {
				return counts, fmt.Errorf("collection %s, entity %s: %w", printable(name), states[i].ID, err)
			}
			counts.Entities++
			counts.Events += n
			p.set(int64(i + 1))
		}
		p.finish()
	}
	return counts, dw.close(counts)
}

// lookupCollection opens an existing collection without creating it when the
// engine can tell.
func lookupCollection(ctx context.Context, e storage.Engine, name string) (storage.Collection, error) {
	if l, ok := e.(storage.CollectionLooker); ok {
		c, err := l.LookupCollection(ctx, name)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("no collection %s", printable(name))
		}
		return c, err
	}
	return e.Collection(ctx, name)
}

// dumpEntity writes one entity record and returns how many events it holds.
func dumpEntity(ctx context.Context, dw *dumpWriter, c storage.Collection, s *entity.State) (int64, error) {
	st, err := s.Encode()
	if err != nil {
		return 0, fmt.Errorf("encoding state: %w", err)
	}
	evs, err := c.EntityEvents(ctx, s.ID)
	if err != nil {
		return 0, fmt.Errorf("reading events: %w", err)
	}
	type encoded struct {
		id  id.EventID
		raw []byte
	}
	enc := make([]encoded, len(evs))
	for i := range evs {
		raw, err := evs[i].Encode()
		if err != nil {
			return 0, fmt.Errorf("encoding event: %w", err)
		}
		enc[i] = encoded{evs[i].ID(), raw}
	}
	slices.SortFunc(enc, func(a, b encoded) int { return bytes.Compare(a.id[:], b.id[:]) })
	rec := dumpRecord{Entity: s.ID.String(), State: st, Events: make([][]byte, len(enc))}
	for i := range enc {
		rec.Events[i] = enc[i].raw
	}
	return int64(len(enc)), dw.write(rec)
}

// decodeEntity checks an entity record of collection and returns its state
// and events.
func decodeEntity(collection string, r dumpRecord) (entity.State, []event.Event, error) {
	eid, err := id.ParseEntityID(r.Entity)
	if err != nil {
		return entity.State{}, nil, fmt.Errorf("entity id %q: %w", r.Entity, err)
	}
	s, err := entity.Decode(r.State)
	if err != nil {
		return s, nil, fmt.Errorf("entity %s: state: %w", eid, err)
	}
	if s.ID != eid || s.Collection != collection {
		return s, nil, fmt.Errorf("entity %s: its state names entity %s of collection %s", eid, s.ID, printable(s.Collection))
	}
	evs := make([]event.Event, len(r.Events))
	for i, raw := range r.Events {
		ev, err := event.Decode(raw)
		if err != nil {
			return s, nil, fmt.Errorf("entity %s: event %d: %w", eid, i, err)
		}
		if ev.Entity != eid || ev.Collection != collection {
			return s, nil, fmt.Errorf("entity %s: event %s belongs to entity %s of collection %s", eid, ev.ID(), ev.Entity, printable(ev.Collection))
		}
		evs[i] = ev
	}
	return s, evs, nil
}

// openExisting opens the storage the flags name, which must exist (a bolt
// file is never created).
func (f adminFlags) openExisting(ctx context.Context) (storage.Engine, string, error) {
	url := f.url()
	if strings.HasPrefix(url, "memory://") {
		return nil, url, errors.New("memory:// storage lives and dies with its server: there is nothing to dump")
	}
	if path, ok := strings.CutPrefix(url, "bolt://"); ok && path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, url, fmt.Errorf("no bolt database at %s (see --data-dir and --storage): %w", path, err)
		}
	}
	e, err := openStorageLocked(ctx, url)
	return e, url, err
}
