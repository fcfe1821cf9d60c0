//go:build !js

package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SizeBudget is the most the gzip -9 of the release build may weigh
// (DESIGN §8): what a browser downloads before the first query.
const SizeBudget = 2_621_440

// forbidden are module paths that must stay out of the js/wasm build: each
// would add megabytes (cel-go ~3.5 MB gzipped) and the browser needs none.
var forbidden = []string{"cel.dev/cel-go", "github.com/google/cel-go", "google.golang.org/grpc", "golang.org/x/tools"}

func wasmEnv() []string {
	return append(os.Environ(), "GOOS=js", "GOARCH=wasm")
}

func TestWasm_StaysOutOfHeavyDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = wasmEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps (js/wasm): %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("the js/wasm build imports %s (from module %s); it must stay out of the browser build", pkg, f)
			}
		}
	}
}

func TestWasm_GzippedBuildWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "ankurah.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = wasmEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("ankurah.wasm: %d bytes raw, %d bytes gzip -9 (budget %d)", len(raw), gz.Len(), SizeBudget)
	if gz.Len() > SizeBudget {
		t.Errorf("gzip -9 of the wasm build is %d bytes, over the %d-byte budget by %d", gz.Len(), SizeBudget, gz.Len()-SizeBudget)
	}
}
