package storageplugin_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// bins holds the plugin binaries TestMain builds, by name.
var bins = map[string]string{}

// pluginPackages are the plugins the tests run, built once per test process.
var pluginPackages = []string{
	"./cmd/ankurah-storage-memory",
	"./examples/ankurah-storage-example",
	"./testdata/hangplugin",
	"./testdata/wrongplugin",
	"./testdata/futureplugin",
	"./testdata/openplugin",
}

// hostEnv makes the test binary act as a host that opens the plugin the
// variable names and waits to be killed (TestHostDeath_PluginExits).
const hostEnv = "STORAGEPLUGIN_TEST_HOST"

func TestMain(m *testing.M) {
	if path := os.Getenv(hostEnv); path != "" {
		e, err := storageplugin.Open(context.Background(), path)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		defer e.Close()
		fmt.Println("ready")
		select {}
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "storageplugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	args := append([]string{"build", "-o", dir + string(os.PathSeparator)}, pluginPackages...)
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugins: %v\n", err)
		return 1
	}
	for _, p := range pluginPackages {
		bins[filepath.Base(p)] = filepath.Join(dir, filepath.Base(p))
	}
	return m.Run()
}

// bin returns the path of a built test plugin.
func bin(t testing.TB, name string) string {
	t.Helper()
	p, ok := bins[name]
	if !ok {
		t.Fatalf("no test plugin %q", name)
	}
	return p
}
