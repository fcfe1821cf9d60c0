package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const pluginModule = "github.com/ankurah/ankurah-go/plugins/storage-plugin"

// plugins are the storage plugins the tests run the command against.
var plugins = map[string]string{
	"memory":  pluginModule + "/cmd/ankurah-storage-memory",
	"example": pluginModule + "/examples/ankurah-storage-example",
	// wrongplugin ignores LIMIT.
	"wrong": pluginModule + "/testdata/wrongplugin",
}

// boltPluginDir is the bolt plugin's module.
const boltPluginDir = "../../../plugins/storage-bolt/cmd/ankurah-storage-bolt"

var bins = map[string]string{}

func TestMain(m *testing.M) {
	if plugin := os.Getenv(jsHostEnv); plugin != "" {
		runJSHost(plugin)
	}
	dir, err := os.MkdirTemp("", "ankurah-conformance-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for name, pkg := range plugins {
		args = append(args, pkg)
		bins[name] = filepath.Join(dir, filepath.Base(pkg))
	}
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	err = cmd.Run()
	if err == nil {
		// The bolt plugin is a module of its own (so the plugin library does
		// not require bbolt): built in its directory.
		bins["bolt"] = filepath.Join(dir, "ankurah-storage-bolt")
		cmd = exec.Command("go", "build", "-o", bins["bolt"], ".")
		cmd.Dir = boltPluginDir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		err = cmd.Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugins: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCLI runs the command in process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestStorage_CorrectPluginsPass(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"memory", []string{"--plugin", bins["memory"]}},
		{"bolt", []string{"--plugin", bins["bolt"], "--arg", "{dir}/data.db"}},
		{"example backend of the guide", []string{"--plugin", bins["example"]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"storage"}, tt.args...)...)
			if code != exitPass {
				t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
			}
			if !strings.Contains(out, " 0 failed") || strings.Contains(out, "\tfail") {
				t.Fatalf("output does not report a clean run:\n%s", out)
			}
		})
	}
}

func TestStorage_WrongPluginFailsAndNamesTheCases(t *testing.T) {
	code, out, _ := runCLI(t, "storage", "--plugin", bins["wrong"], "--json")
	if code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	failed := map[string]bool{}
	for _, c := range rep.Cases {
		if c.Status == "fail" {
			failed[c.Name] = true
			if len(c.Log) == 0 {
				t.Errorf("failed case %s has no log", c.Name)
			}
		}
	}
	// Cases that use LIMIT fail; cases that never fetch pass.
	for _, name := range []string{"Fetch/TenThousand", "Fetch/TiesByEntityID", "AnkQL/order"} {
		if !failed[name] {
			t.Errorf("case %s did not fail on a plugin that ignores LIMIT", name)
		}
	}
	for _, name := range []string{"GetState/NotFound", "Apply/DuplicateEventsAreNoOps", "Engine/ErrClosed"} {
		if failed[name] {
			t.Errorf("case %s failed, but it does not depend on LIMIT", name)
		}
	}
	if rep.Summary.Failed != len(failed) || rep.Summary.Passed == 0 {
		t.Errorf("summary %+v does not match the cases", rep.Summary)
	}

	// The table names every failed case too.
	code, out, _ = runCLI(t, "storage", "--plugin", bins["wrong"], "--run", "^Fetch/TiesByEntityID$")
	if code != exitFail {
		t.Fatalf("table run: exit %d, want %d", code, exitFail)
	}
	for _, want := range []string{"Fetch/TiesByEntityID", "fail", "FAILED: Fetch/TiesByEntityID", "0 passed, 1 failed, 0 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestStorage_RunSelectsCases(t *testing.T) {
	code, out, errOut := runCLI(t, "storage", "--plugin", bins["memory"], "--run", "^GetState/", "--json")
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Cases) == 0 {
		t.Fatal("no case ran")
	}
	for _, c := range rep.Cases {
		if !strings.HasPrefix(c.Name, "GetState/") {
			t.Errorf("case %s ran, --run selected only GetState/", c.Name)
		}
	}
}

func TestStorage_SkipsGiveTheirReason(t *testing.T) {
	code, out, _ := runCLI(t, "storage", "--plugin", bins["example"], "--run", "^Fetch/DeclaredIndexes$")
	if code != exitPass {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "skip") || !strings.Contains(out, "Indexes") {
		t.Fatalf("the skip and its reason are not in the table:\n%s", out)
	}
}

func TestStorage_PluginThatCannotStartFailsEveryCase(t *testing.T) {
	// The bolt plugin needs a path argument: without it, it exits with a usage message.
	code, out, _ := runCLI(t, "storage", "--plugin", bins["bolt"], "--run", "^Collection/Name$")
	if code != exitFail {
		t.Fatalf("exit %d, want %d\n%s", code, exitFail, out)
	}
	if !strings.Contains(out, "usage: ankurah-storage-bolt") {
		t.Fatalf("the plugin's own message is not reported:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no suite", nil},
		{"unknown suite", []string{"transport"}},
		{"no plugin", []string{"storage"}},
		{"missing plugin file", []string{"storage", "--plugin", filepath.Join(t.TempDir(), "nope")}},
		{"bad regexp", []string{"storage", "--plugin", bins["memory"], "--run", "("}},
		{"regexp matching nothing", []string{"storage", "--plugin", bins["memory"], "--run", "^NoSuchCase$"}},
		{"stray argument", []string{"storage", "--plugin", bins["memory"], "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
			if errOut == "" {
				t.Fatal("nothing explains the usage error")
			}
		})
	}
}
