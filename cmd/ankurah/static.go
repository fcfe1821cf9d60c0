package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// ErrStaticDir: the --static directory is missing or not a directory.
var ErrStaticDir = errors.New("--static must name a directory of a built web app")

// Compression levels of the assets compressed at start-up: brotli 9 and gzip
// 9 take about 2 s each for the 8.5 MB ankurah.wasm (brotli 11 takes ~40 s,
// so a build that wants it writes FILE.br itself, which is served as is).
const (
	brotliLevel = 9
	gzipLevel   = gzip.BestCompression
	// minCompress: smaller files are not worth a Content-Encoding.
	minCompress = 1024
)

// compressible lists the extensions of text-like assets worth compressing
// (images, fonts and archives are compressed already).
var compressible = map[string]bool{
	".wasm": true, ".js": true, ".mjs": true, ".css": true, ".html": true, ".json": true,
	".svg": true, ".txt": true, ".map": true, ".xml": true, ".ts": true, ".ico": true,
}

// staticFiles serves a directory of a built web app: every compressible file
// precompressed (brotli and gzip, chosen by Accept-Encoding), with an ETag
// per representation and cache headers — files under assets/ (the bundler's
// content-hashed names) are immutable for a year, everything else is
// revalidated on each use (Cache-Control: no-cache), so a new ankurah.wasm
// or index.html is seen at once and an unchanged one costs a 304.
type staticFiles struct {
	root string
	log  *slog.Logger

	mu      sync.Mutex
	entries map[string]*staticEntry // by cleaned URL path
}

// staticEntry is one file at one version (size and modification time).
type staticEntry struct {
	size    int64
	modTime time.Time

	once sync.Once
	err  error
	etag string            // of the identity bytes
	reps map[string][]byte // "br", "gzip" -> encoded bytes, when smaller than the file
}

// newStaticFiles checks dir and starts compressing its assets in the
// background (requests meanwhile wait for the file they need).
func newStaticFiles(ctx context.Context, dir string, log *slog.Logger) (*staticFiles, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (build it first: scripts/run.sh builds examples/react-app/dist)", ErrStaticDir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a file", ErrStaticDir, dir)
	}
	s := &staticFiles{root: dir, log: log, entries: map[string]*staticEntry{}}
	go s.warm(ctx)
	return s, nil
}

// warm prepares every file of the directory, so the first browser does not
// wait for compression.
func (s *staticFiles) warm(ctx context.Context) {
	start := time.Now()
	n := 0
	_ = filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || strings.HasSuffix(p, ".br") || strings.HasSuffix(p, ".gz") {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return nil
		}
		if _, e, err := s.entry("/" + filepath.ToSlash(rel)); err == nil {
			e.prepare(p, s.log)
			n++
		}
		return nil
	})
	s.log.Debug("static files prepared", "dir", s.root, "files", n, "took", time.Since(start).Round(time.Millisecond))
}

// entry finds the file of a URL path (a directory's index.html) and its
// current entry.
func (s *staticFiles) entry(urlPath string) (string, *staticEntry, error) {
	clean := path.Clean("/" + urlPath)
	if strings.HasSuffix(urlPath, "/") {
		clean = path.Join(clean, "index.html")
	}
	file := filepath.Join(s.root, filepath.FromSlash(clean))
	st, err := os.Stat(file)
	if err == nil && st.IsDir() {
		clean = path.Join(clean, "index.html")
		file = filepath.Join(file, "index.html")
		st, err = os.Stat(file)
	}
	if err != nil {
		return "", nil, err
	}
	if !st.Mode().IsRegular() {
		return "", nil, fs.ErrNotExist
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[clean]
	if e == nil || e.size != st.Size() || !e.modTime.Equal(st.ModTime()) {
		e = &staticEntry{size: st.Size(), modTime: st.ModTime()}
		s.entries[clean] = e
	}
	return file, e, nil
}

// prepare hashes the file and compresses it once per version. A FILE.br or
// FILE.gz beside it, at least as new, is taken instead of compressing.
func (e *staticEntry) prepare(file string, log *slog.Logger) error {
	e.once.Do(func() {
		data, err := os.ReadFile(file)
		if err != nil {
			e.err = err
			return
		}
		sum := sha256.Sum256(data)
		e.etag = hex.EncodeToString(sum[:12])
		e.reps = map[string][]byte{}
		if len(data) < minCompress || !compressible[strings.ToLower(filepath.Ext(file))] {
			return
		}
		for _, enc := range []struct {
			name, ext string
			compress  func([]byte) ([]byte, error)
		}{{"br", ".br", compressBrotli}, {"gzip", ".gz", compressGzip}} {
			b, err := precompressed(file+enc.ext, e.modTime)
			if err != nil || b == nil {
				b, err = enc.compress(data)
			}
			if err != nil {
				log.Warn("static file not compressed", "file", file, "encoding", enc.name, "err", err)
				continue
			}
			if len(b) < len(data) {
				e.reps[enc.name] = b
			}
		}
	})
	return e.err
}

// precompressed reads a compressed copy made by a build, if there is one no
// older than the file.
func precompressed(file string, notBefore time.Time) ([]byte, error) {
	st, err := os.Stat(file)
	if err != nil || st.ModTime().Before(notBefore) {
		return nil, nil
	}
	return os.ReadFile(file)
}

func compressBrotli(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w := brotli.NewWriterLevel(&b, brotliLevel)
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func compressGzip(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzipLevel)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// acceptedEncoding picks the best representation the request accepts:
// brotli, then gzip, else "" (identity). q=0 refuses an encoding; "*"
// stands for any encoding not named.
func acceptedEncoding(header string, have map[string][]byte) string {
	q := map[string]float64{}
	star := -1.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		weight := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				weight = f
			}
		}
		if name == "*" {
			star = weight
		} else if name != "" {
			q[name] = weight
		}
	}
	best, bestQ := "", 0.0
	for _, enc := range []string{"br", "gzip"} {
		w, named := q[enc]
		if !named {
			w = max(star, 0)
		}
		if _, ok := have[enc]; ok && w > bestQ {
			best, bestQ = enc, w
		}
	}
	return best
}

// ServeHTTP serves one file in the representation the client accepts.
func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	file, e, err := s.entry(r.URL.Path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if err := e.prepare(file, s.log); err != nil {
		http.Error(w, "cannot read file", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if ct := mime.TypeByExtension(filepath.Ext(file)); ct != "" {
		h.Set("Content-Type", ct)
	}
	if strings.HasPrefix(path.Clean(r.URL.Path), "/assets/") {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if len(e.reps) > 0 {
		h.Set("Vary", "Accept-Encoding")
	}
	enc := acceptedEncoding(r.Header.Get("Accept-Encoding"), e.reps)
	if enc == "" {
		h.Set("ETag", `"`+e.etag+`"`)
		f, err := os.Open(file)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", e.modTime, f)
		return
	}
	// Each representation has its own strong ETag (RFC 9110 §8.8.3).
	h.Set("ETag", `"`+e.etag+"-"+enc+`"`)
	h.Set("Content-Encoding", enc)
	http.ServeContent(w, r, "", e.modTime, bytes.NewReader(e.reps[enc]))
}
