package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeFiles returns the files the README's short example is made of: each
// fenced block after a `<!-- readme-test: PATH -->` line.
func readmeFiles(t *testing.T, readme string) map[string]string {
	t.Helper()
	re := regexp.MustCompile("(?s)<!-- readme-test: ([^ ]+) -->\n```[a-z]*\n(.*?)```")
	files := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(readme, -1) {
		files[m[1]] = m[2]
	}
	for _, want := range []string{"go.mod", "models/album.go", "main.go"} {
		if files[want] == "" {
			t.Fatalf("README.md has no block marked <!-- readme-test: %s -->", want)
		}
	}
	return files
}

// TestReadme_ExampleRunsInAModuleOfItsOwn writes the README's go.mod, model
// and program into a new module outside the repository (its replace lines
// pointed at this checkout), then runs what the README says to run: go mod
// tidy, go generate, go run — twice, as a user would see it.
func TestReadme_ExampleRunsInAModuleOfItsOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module from scratch")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if strings.HasPrefix(dir, root) {
		t.Fatalf("temporary directory %s is inside the repository", dir)
	}
	for name, text := range readmeFiles(t, string(readme)) {
		text = strings.ReplaceAll(text, "/path/to/ankurah-go", root)
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		// Outside any workspace, as in a user's module; only the module proxy is needed.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("mod", "tidy")
	goCmd("generate", "./...")
	if _, err := os.Stat(filepath.Join(dir, "models", "ankurah_gen.go")); err != nil {
		t.Fatalf("go generate wrote no ankurah_gen.go: %v", err)
	}
	if out := goCmd("run", "."); strings.TrimSpace(out) != "Add Origin of Symmetry 2001" {
		t.Fatalf("first run printed %q", out)
	}
	if out := goCmd("run", "."); strings.TrimSpace(out) != "Initial Origin of Symmetry 2001\nAdd Origin of Symmetry 2001" {
		t.Fatalf("second run printed %q", out)
	}
}
