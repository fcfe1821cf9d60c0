package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// jsPluginDir holds the storage plugin written in JavaScript.
const jsPluginDir = "../../../examples/storage-js"

// jsHostEnv makes the test binary a host that opens the JavaScript plugin
// named by its value, says "ready" and waits to be killed.
const jsHostEnv = "ANKURAH_CONFORMANCE_TEST_JS_HOST"

var jsNPMCI sync.Once

// jsPlugin returns the absolute path of the JavaScript plugin, with its npm
// packages installed (npm ci, once, when node_modules is missing). Without
// node or the packages the test skips, except under CI=true where that is a
// failure.
func jsPlugin(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (install with: npm ci --prefix examples/storage-js)", what)
		}
		t.Skipf("%s: skipping the JavaScript plugin's tests", what)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not installed")
	}
	dir, err := filepath.Abs(jsPluginDir)
	if err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(dir, "node_modules", "@grpc", "grpc-js", "package.json")
	if _, err := os.Stat(installed); err != nil {
		jsNPMCI.Do(func() {
			npm, err := exec.LookPath("npm")
			if err != nil {
				return
			}
			cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("npm ci in %s: %v\n%s", dir, err, out)
			}
		})
	}
	if _, err := os.Stat(installed); err != nil {
		missing("the npm packages of examples/storage-js are not installed")
	}
	return filepath.Join(dir, "main.js")
}

// TestStorage_JavaScriptPluginPasses runs the whole storage suite against the
// plugin written in JavaScript: every case passes, and the only cases skipped
// are those of the optional capabilities it does not declare. No plugin
// process outlives the run.
func TestStorage_JavaScriptPluginPasses(t *testing.T) {
	plugin := jsPlugin(t)
	code, out, errOut := runCLI(t, "storage", "--plugin", plugin, "--json")
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, --json output does not parse: %v\n%s\n%s", code, err, out, errOut)
	}
	for _, c := range rep.Cases {
		if c.Status == "fail" {
			t.Errorf("case %s failed:\n%s", c.Name, strings.Join(c.Log, "\n"))
		}
	}
	if code != exitPass {
		t.Fatalf("exit %d, want 0\n%s", code, errOut)
	}
	// What it does not declare, the host's engine does not implement (nor
	// the harness claim), and the suite skips: indexes, lookups, repair,
	// Clear, the change feed, reopening a store.
	undeclared := []string{"does not declare Capabilities.", "is not a storage.", "does not implement storage.",
		"is not a storagetest.Reopener"}
	for _, c := range rep.Cases {
		if c.Status != "skip" {
			continue
		}
		reason := strings.Join(c.Log, " ")
		known := false
		for _, u := range undeclared {
			known = known || strings.Contains(reason, u)
		}
		if !known {
			t.Errorf("case %s skipped for a reason other than an undeclared capability: %s", c.Name, reason)
		}
	}
	// The cases that need no optional capability are most of the suite.
	if rep.Summary.Passed < 40 {
		t.Errorf("only %d cases passed", rep.Summary.Passed)
	}
	if left := processesRunning(t, plugin); len(left) > 0 {
		t.Errorf("plugin processes %v still run after the suite ended them", left)
	}
}

// TestStorage_JavaScriptPluginSpeaksVersion1 checks the plugin against a
// host that offers only protocol version 1.
func TestStorage_JavaScriptPluginSpeaksVersion1(t *testing.T) {
	plugin := jsPlugin(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e, err := storageplugin.Open(ctx, plugin, storageplugin.WithProtocolVersions(1))
	if err != nil {
		t.Fatalf("Open over version 1: %v", err)
	}
	c, err := e.Collection(ctx, "albums")
	if err != nil {
		t.Fatalf("Collection: %v", err)
	}
	if c.Name() != "albums" {
		t.Errorf("Name() = %q", c.Name())
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left := processesRunning(t, plugin); len(left) > 0 {
		t.Errorf("plugin processes %v still run after Close", left)
	}
}

// TestStorage_JavaScriptPluginRefusesToRunByHand: started without the
// host's magic cookie, the plugin explains itself and exits non-zero.
func TestStorage_JavaScriptPluginRefusesToRunByHand(t *testing.T) {
	plugin := jsPlugin(t)
	cmd := exec.Command(plugin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("run by hand: %v, want a non-zero exit\n%s", err, out)
	}
	if !strings.Contains(string(out), "storage plugin") {
		t.Errorf("the message does not explain what the program is:\n%s", out)
	}
}

// TestStorage_JavaScriptPluginExitsWithItsHost: when its host is killed
// without closing it, the plugin notices it was re-parented and exits.
func TestStorage_JavaScriptPluginExitsWithItsHost(t *testing.T) {
	plugin := jsPlugin(t)
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), jsHostEnv+"="+plugin)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("host said %q, %v", line, err)
	}
	var pid int
	for _, p := range processesRunning(t, plugin) {
		if ppid, _ := procStat(p); ppid == host.Process.Pid {
			pid = p
		}
	}
	if pid == 0 {
		t.Fatal("cannot find the host's plugin process")
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, state := procStat(pid); state == "" || state == "Z" || state == "X" {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still runs 30s after its host was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runJSHost is the test binary as a host (jsHostEnv): it opens the plugin,
// says "ready" and waits to be killed.
func runJSHost(plugin string) {
	e, err := storageplugin.Open(context.Background(), plugin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = e
	fmt.Println("ready")
	select {}
}

// processesRunning returns the pids of the live processes (not zombies)
// whose command line includes path.
func processesRunning(t *testing.T, path string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(path)) {
			continue
		}
		if _, state := procStat(pid); state != "" && state != "Z" && state != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat returns a process's parent pid and state letter ("" when it is gone).
func procStat(pid int) (int, string) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, ""
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 2 {
		return 0, ""
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid, fields[0]
}
