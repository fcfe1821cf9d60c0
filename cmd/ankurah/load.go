package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
)

// ErrLoadConflict: an entity of the dump exists in the target storage with
// another state; load writes neither (nor anything after it).
var ErrLoadConflict = errors.New("entity exists with another state")

// loadBatchEntities is how many entities one storage batch of load writes.
const loadBatchEntities = 256

// loadCounts are what a load wrote and what it found already there.
type loadCounts struct {
	dumpCounts
	// Unchanged counts entities stored already with exactly the dump's state.
	Unchanged int64
	// EventsWritten counts the events of the entities load wrote (those of
	// unchanged entities are not written again).
	EventsWritten int64
}

// loadCmd runs `ankurah load`.
func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("load", stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, dumpUsage, "\nflags:\n"); f.fs.PrintDefaults() }
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() != 1 {
		f.fs.Usage()
		return fmt.Errorf("load: want one FILE (- for standard input), got %d arguments", f.fs.NArg())
	}
	path, url := f.fs.Arg(0), f.url()
	if strings.HasPrefix(url, "memory://") {
		return errors.New("load: memory:// storage would end with this command: load into bolt://, postgres:// or tikv://")
	}
	in, size, closeIn, err := openDumpFile(path)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer closeIn()
	if path, ok := strings.CutPrefix(url, "bolt://"); ok && *f.storageURL == "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("load: data directory: %w", err)
		}
	}
	e, err := openStorageLocked(ctx, url)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer e.Close()
	counts, err := loadEngine(ctx, e, in, size, newProgress(stderr))
	if err != nil {
		return fmt.Errorf("load %s: %w", path, err)
	}
	fmt.Fprintf(stderr, "loaded %d entities and %d events of %d collections into %s (%d entities already there unchanged)\n",
		counts.Entities-counts.Unchanged, counts.EventsWritten, counts.Collections, url, counts.Unchanged)
	return nil
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openDumpFile opens a dump for reading (stdin for "-"; gunzipped when it
// starts with gzip's magic bytes). read counts the file's bytes as they are
// read and size is the file's size (0 when unknown), for progress.
func openDumpFile(path string) (r *dumpSource, size int64, closeFn func() error, err error) {
	var f *os.File
	if path == "-" {
		f = os.Stdin
	} else if f, err = os.Open(path); err != nil {
		return nil, 0, nil, err
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	src := &dumpSource{raw: &countingReader{r: f}}
	br := bufio.NewReader(src.raw)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		src.r = zr
	} else {
		src.r = br
	}
	return src, size, f.Close, nil
}

// dumpSource is a dump file being read: r gives the (decompressed) records,
// raw counts the file's bytes.
type dumpSource struct {
	r   io.Reader
	raw *countingReader
}

func (s *dumpSource) Read(p []byte) (int, error) { return s.r.Read(p) }

// loadEngine writes the dump read from src into e, a batch of entities at a
// time: events (stored ones are no-ops), then each state, unless the
// entity's stored state is byte for byte the dump's. It refuses, with
// ErrLoadConflict, an entity stored with another state.
func loadEngine(ctx context.Context, e storage.Engine, src *dumpSource, size int64, p *progress) (loadCounts, error) {
	var counts loadCounts
	dr, err := newDumpReader(src)
	if err != nil {
		return counts, err
	}
	p.start("load", "bytes", size)
	var (
		coll    storage.Collection
		name    string
		pending storage.Batch
		n       int
	)
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := e.Apply(ctx, &pending); err != nil {
			return fmt.Errorf("writing a batch of collection %s: %w", printable(name), err)
		}
		pending, n = storage.Batch{}, 0
		return nil
	}
	for {
		rec, err := dr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return counts, err
		}
		switch {
		case rec.End != nil:
			if err := flush(); err != nil {
				return counts, err
			}
			if rec.End.Entities != counts.Entities || rec.End.Events != counts.Events || rec.End.Collections != counts.Collections {
				return counts, fmt.Errorf("%w: its end record counts %+v, the file holds %+v", ErrNotDump, *rec.End, counts.dumpCounts)
			}
		case rec.Collection != "":
			if err := flush(); err != nil {
				return counts, err
			}
			if coll, err = e.Collection(ctx, rec.Collection); err != nil {
				return counts, fmt.Errorf("collection %s: %w", printable(rec.Collection), err)
			}
			name = rec.Collection
			counts.Collections++
		case rec.Entity != "":
			if coll == nil {
				return counts, fmt.Errorf("%w: line %d: an entity before any collection record", ErrNotDump, dr.line)
			}
			s, evs, err := decodeEntity(name, rec)
			if err != nil {
				return counts, fmt.Errorf("%w: line %d: %v", ErrNotDump, dr.line, err)
			}
			write, err := needsWrite(ctx, coll, s, rec.State)
			if err != nil {
				return counts, fmt.Errorf("collection %s: %w", printable(name), err)
			}
			counts.Entities++
			counts.Events += int64(len(evs))
			if !write {
				counts.Unchanged++
			} else {
				counts.EventsWritten += int64(len(evs))
				pending.Events = append(pending.Events, evs...)
				pending.States = append(pending.States, storage.StateWrite{State: s})
				if n++; n >= loadBatchEntities {
					if err := flush(); err != nil {
						return counts, err
					}
				}
			}
		default:
			return counts, fmt.Errorf("%w: line %d is no record this build knows", ErrNotDump, dr.line)
		}
		p.set(src.raw.n)
	}
	if !dr.end {
		return counts, ErrTruncatedDump
	}
	p.finish()
	return counts, nil
}

// needsWrite reports whether s (encoded as raw) must be written: it is not
// stored yet. Stored with the same bytes, it is not; stored otherwise is a
// conflict.
func needsWrite(ctx context.Context, c storage.Collection, s entity.State, raw []byte) (bool, error) {
	have, err := c.GetState(ctx, s.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("entity %s: reading the stored state: %w", s.ID, err)
	}
	stored, err := have.Encode()
	if err != nil {
		return false, fmt.Errorf("entity %s: encoding the stored state: %w", s.ID, err)
	}
	if bytes.Equal(stored, raw) {
		return false, nil
	}
	if s.Collection == core.SystemCollection {
		mine, _ := have.Values.Get("system_id").AsString()
		theirs, _ := s.Values.Get("system_id").AsString()
		return false, fmt.Errorf("%w: the storage is system %s (a server has run on it) and the dump is of system %s: load into storage no server has opened",
			ErrLoadConflict, mine, theirs)
	}
	return false, fmt.Errorf("entity %s: %w (stored head %s, the dump's %s): load into empty storage, or remove it first",
		s.ID, ErrLoadConflict, clockText(have.Head), clockText(s.Head))
}

func clockText(c event.Clock) string {
	parts := make([]string, len(c))
	for i, e := range c {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}
