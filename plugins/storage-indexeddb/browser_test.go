//go:build !js

package indexeddb_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInChromium runs this package's js/wasm tests (the storage conformance
// suite on real IndexedDB) in headless Chromium through wasmbrowsertest,
// so plain `go test` covers the engine. Without a browser it skips, and
// fails under CI=true.
func TestInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser; skipped with -short")
	}
	runner := browserRunner(t)
	cmd := exec.Command("go", "test", "-count=1", "-v", "-timeout=5m", "-exec", runner, ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go test -exec %s failed: %v\n%s", runner, err, out)
	}
	var passed, skipped int
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		passed += b2i(strings.HasPrefix(l, "--- PASS"))
		skipped += b2i(strings.HasPrefix(l, "--- SKIP"))
	}
	t.Logf("GOOS=js GOARCH=wasm go test -exec %s: %d tests and subtests passed, %d skipped", runner, passed, skipped)
}

// browserRunner finds wasmbrowsertest and a Chromium for it.
func browserRunner(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: a missing browser is a failure)", what)
		}
		t.Skip(what)
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		missing("no chromium on PATH (apt-get install -y chromium)")
	}
	if p, err := exec.LookPath("wasmbrowsertest"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "wasmbrowsertest")
	if _, err := os.Stat(p); err != nil {
		missing("no wasmbrowsertest (go install github.com/agnivade/wasmbrowsertest@latest)")
	}
	return p
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
