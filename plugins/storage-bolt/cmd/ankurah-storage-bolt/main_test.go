package main_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// binary is the plugin, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ankurah-storage-bolt-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "ankurah-storage-bolt")
	cmd := exec.Command("go", "build", "-o", binary, ".")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the plugin: %v\n", err)
		return 1
	}
	return m.Run()
}

func tempDir(t storagetest.T) string {
	if tt, ok := t.(interface{ TempDir() string }); ok {
		return tt.TempDir()
	}
	panic("storagetest.T without TempDir")
}

func TestConformance_ThroughThePlugin(t *testing.T) {
	storagetest.Run(t, func(ctx context.Context, t storagetest.T) (storagetest.Harness, error) {
		e, err := storageplugin.Open(ctx, binary, storageplugin.WithArgs(filepath.Join(tempDir(t), "data.db")))
		if err != nil {
			return nil, err
		}
		_, indexes := e.(storage.Indexer)
		return storagetest.NewHarness(e, storagetest.Capabilities{Indexes: indexes}, nil), nil
	})
}

func TestOpen_ErrorsKeepTheirMessageAndKind(t *testing.T) {
	dir := t.TempDir()
	notBolt := filepath.Join(dir, "not-bolt.db")
	if err := os.WriteFile(notBolt, []byte("this is not a bolt database, not even close; it only has to be long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked.db")
	holder, err := bolt.Open(t.Context(), locked)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()

	tests := []struct {
		name     string
		args     []string
		want     error
		contains string
	}{
		{"a file that is not a bolt database", []string{notBolt}, storage.ErrFormat, notBolt},
		{"a file another process holds", []string{locked}, storage.ErrUnavailable, "locked"},
		{"no path", nil, storage.ErrInvalid, "usage: ankurah-storage-bolt PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			e, err := storageplugin.Open(ctx, binary, storageplugin.WithArgs(tt.args...))
			if err == nil {
				_ = e.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want an error wrapping %v", err, tt.want)
			}
			if errors.Is(err, storageplugin.ErrUnavailable) {
				t.Errorf("Open = %v: an engine's open error is not the plugin process being unavailable", err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Open = %q, want the engine's own message (with %q)", err, tt.contains)
			}
		})
	}
}

func TestServe_RunByHandCreatesNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	out, err := exec.Command(binary, path).CombinedOutput()
	if err == nil {
		t.Fatalf("the plugin run by hand exited 0:\n%s", out)
	}
	if !strings.Contains(string(out), "plugin") {
		t.Errorf("the plugin run by hand does not explain itself:\n%s", out)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("running the plugin by hand touched %s: %v", path, err)
	}
}
