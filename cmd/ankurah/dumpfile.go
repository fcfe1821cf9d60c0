package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The dump file format (docs/dump-format.md): JSON lines, a header first,
// then for each collection a collection record followed by its entity
// records, then an end record with the counts.
const (
	dumpFormatName    = "ankurah-dump"
	dumpFormatVersion = 1
	// maxDumpLine bounds one record: a state of entity.MaxEncodedSize and its
	// events, base64-encoded, fit comfortably.
	maxDumpLine = 512 << 20
)

// Errors of reading a dump file, tested with errors.Is.
var (
	// ErrNotDump: the file is not an ankurah dump (no header, or a damaged record).
	ErrNotDump = errors.New("not an ankurah dump file")
	// ErrNewerDump: the file was written in a format version newer than this
	// build reads.
	ErrNewerDump = errors.New("dump format is newer than this ankurah reads")
	// ErrTruncatedDump: the file ends before its end record.
	ErrTruncatedDump = errors.New("dump file is truncated")
)

// dumpRecord is one line of a dump file. Exactly one group of fields is set:
// Format and Version (the header), Collection (with Entities, the number of
// entity records that follow), Entity (with State and Events, belonging to
// the collection record before it), or End.
type dumpRecord struct {
	Format  string `json:"format,omitempty"`
	Version int    `json:"version,omitempty"`

	Collection string `json:"collection,omitempty"`
	Entities   int64  `json:"entities,omitempty"`

	Entity string   `json:"entity,omitempty"`
	State  []byte   `json:"state,omitempty"`  // canonical CBOR of entity.State (base64 in JSON)
	Events [][]byte `json:"events,omitempty"` // canonical CBOR of each event.Event, by ascending event id

	End *dumpCounts `json:"end,omitempty"`
}

// dumpCounts are what a whole dump holds (its end record, and what load
// reports).
type dumpCounts struct {
	Collections int64 `json:"collections"`
	Entities    int64 `json:"entities"`
	Events      int64 `json:"events"`
}

// dumpWriter writes records as JSON lines.
type dumpWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newDumpWriter(w io.Writer) (*dumpWriter, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	d := &dumpWriter{w: bw, enc: json.NewEncoder(bw)}
	return d, d.write(dumpRecord{Format: dumpFormatName, Version: dumpFormatVersion})
}

func (d *dumpWriter) write(r dumpRecord) error { return d.enc.Encode(r) }

// close writes the end record and flushes.
func (d *dumpWriter) close(c dumpCounts) error {
	if err := d.write(dumpRecord{End: &c}); err != nil {
		return err
	}
	return d.w.Flush()
}

// dumpReader reads the records of a dump file, checking its header first.
type dumpReader struct {
	r    *bufio.Reader
	line int
	end  bool
}

func newDumpReader(r io.Reader) (*dumpReader, error) {
	d := &dumpReader{r: bufio.NewReaderSize(r, 1<<16)}
	h, err := d.next()
	if errors.Is(err, io.EOF) || errors.Is(err, ErrTruncatedDump) {
		return nil, fmt.Errorf("%w: the file is empty", ErrNotDump)
	}
	if err != nil {
		return nil, err
	}
	if h.Format != dumpFormatName {
		return nil, fmt.Errorf("%w: its first line has no \"format\": %q header", ErrNotDump, dumpFormatName)
	}
	if h.Version > dumpFormatVersion {
		return nil, fmt.Errorf("%w: the file is format version %d, this build reads versions up to %d: load it with a newer ankurah",
			ErrNewerDump, h.Version, dumpFormatVersion)
	}
	if h.Version < 1 {
		return nil, fmt.Errorf("%w: format version %d", ErrNotDump, h.Version)
	}
	return d, nil
}

// next returns the next record; io.EOF after the end record, and
// ErrTruncatedDump when the file ends before it.
func (d *dumpReader) next() (dumpRecord, error) {
	var r dumpRecord
	if d.end {
		return r, io.EOF
	}
	line, err := d.readLine()
	if err != nil {
		return r, err
	}
	d.line++
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("%w: line %d: %v", ErrNotDump, d.line, err)
	}
	if r.End != nil {
		d.end = true
	}
	return r, nil
}

func (d *dumpReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxDumpLine {
			return nil, fmt.Errorf("%w: line %d is longer than %d bytes", ErrNotDump, d.line+1, maxDumpLine)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if d.line == 0 && len(line) == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%w: it ends after line %d without its end record", ErrTruncatedDump, d.line)
		default:
			return nil, err
		}
	}
}
