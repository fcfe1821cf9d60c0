package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// guidePath is the guide to writing a storage engine.
const guidePath = "../../../docs/writing-a-storage-engine.md"

// guideFiles returns the files the guide writes out: each is the fenced
// block after a line `<!-- guide-file: PATH -->`.
func guideFiles(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile(guidePath)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(doc))
	var name string
	var body *strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case body != nil && line == "```":
			files[name] = body.String()
			name, body = "", nil
		case body != nil:
			body.WriteString(line + "\n")
		case strings.HasPrefix(line, "<!-- guide-file: "):
			name = strings.TrimSuffix(strings.TrimPrefix(line, "<!-- guide-file: "), " -->")
		case name != "" && strings.HasPrefix(line, "```"):
			body = &strings.Builder{}
		}
	}
	if name != "" || body != nil {
		t.Fatalf("the guide's file %s has no closing fence", name)
	}
	return files
}

// TestGuide_OutsideModulePasses follows docs/writing-a-storage-engine.md in
// a directory outside the repository: its go.mod (with the clone's path in
// the replace lines), its two engines and their tests, and its plugin. The
// module tidies and vets clean, both engines pass the whole storage suite
// in process, and the plugin passes ankurah-conformance storage (a part of
// the suite, the rest being the same cases run in process above). Needs
// the Go module proxy for the third-party modules: without it the test
// skips, and under CI=true fails.
func TestGuide_OutsideModulePasses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a module of its own")
	}
	files := guideFiles(t)
	for _, want := range []string{"go.mod", "boltkv/boltkv.go", "boltkv/boltkv_test.go",
		"mapstore/mapstore.go", "mapstore/mapstore_test.go", "cmd/mystore-plugin/main.go"} {
		if _, ok := files[want]; !ok {
			t.Fatalf("the guide has no file %s (it has %d files)", want, len(files))
		}
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, body := range files {
		if name == "go.mod" {
			if !strings.Contains(body, "/path/to/ankurah-go/") {
				t.Fatal("the guide's go.mod names no /path/to/ankurah-go/ to replace with the clone's path")
			}
			body = strings.ReplaceAll(body, "/path/to/ankurah-go/", root+"/")
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Outside the repository: no go.work, and go.mod may be updated.
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	goCmd := func(args ...string) (string, error) {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := goCmd("mod", "tidy"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go mod tidy: %v\n%s", err, out)
		}
		t.Skipf("go mod tidy (needs the Go module proxy): %v\n%s", err, out)
	}
	if out, err := goCmd("vet", "./..."); err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
	out, err := goCmd("test", "-count=1", "./...")
	if err != nil {
		t.Fatalf("go test: %v\n%s", err, out)
	}
	for _, pkg := range []string{"example.com/mystore/boltkv", "example.com/mystore/mapstore"} {
		if !strings.Contains(out, "ok  \t"+pkg) {
			t.Errorf("go test did not pass %s:\n%s", pkg, out)
		}
	}
	plugin := filepath.Join(dir, "mystore-plugin")
	if out, err := goCmd("build", "-o", plugin, "./cmd/mystore-plugin"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	code, stdout, stderr := runCLI(t, "storage", "--plugin", plugin, "--arg", "{dir}/data.db",
		"--run", "^(Apply|Events|Lookup|Repair)/|^Fetch/DeclaredIndexes$|^Engine/(Clear|ErrClosed)$")
	if code != exitPass || !strings.Contains(stdout, " 0 failed") {
		t.Fatalf("ankurah-conformance storage: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, " 0 skipped") {
		t.Errorf("cases skipped through the plugin (its engine has every capability they need):\n%s", stdout)
	}
}
