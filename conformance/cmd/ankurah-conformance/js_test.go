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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
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
// plugin written in JavaScript: every case runs, every case passes but those
// of the optional interfaces it does not declare (indexes, repair, the
// change feed, clearing all but some collections, reopening a store), which
// the suite skips. No plugin process outlives the run.
func TestStorage_JavaScriptPluginPasses(t *testing.T) {
	plugin := jsPlugin(t)
	code, out, errOut := runCLI(t, "storage", "--plugin", plugin, "--json")
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, --json output does not parse: %v\n%s\n%s", code, err, out, errOut)
	}
	if want := len(storagetest.Cases()); len(rep.Cases) != want {
		t.Errorf("the report has %d cases, the suite %d", len(rep.Cases), want)
	}
	for _, c := range rep.Cases {
		if c.Status == "fail" {
			t.Errorf("case %s failed:\n%s", c.Name, strings.Join(c.Log, "\n"))
		}
	}
	if code != exitPass {
		t.Fatalf("exit %d, want 0\n%s", code, errOut)
	}
	// The skip reasons name an undeclared capability or interface.
	undeclared := []string{"does not declare Capabilities.Indexes", "does not declare Capabilities.Repair",
		"is not a storage.KeepingClearer", "does not implement storage.ChangeFeed", "does not implement storage.ManyReader", "is not a storagetest.Reopener"}
	// The declared ones run: these cases must pass, not skip.
	declared := map[string]bool{"Lookup/UnknownIsNotFound": false, "Lookup/FindsWrittenCollection": false, "Engine/Clear": false}
	for _, c := range rep.Cases {
		if _, ok := declared[c.Name]; ok {
			declared[c.Name] = c.Status == "pass"
		}
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
	for name, passed := range declared {
		if !passed {
			t.Errorf("case %s of a declared capability did not pass", name)
		}
	}
	t.Logf("%d passed, %d skipped", rep.Summary.Passed, rep.Summary.Skipped)
	if left := processesRunning(t, plugin); len(left) > 0 {
		t.Errorf("plugin processes %v still run after the suite ended them", left)
	}
}

// TestStorage_JavaScriptPluginServesItsCapabilities: over protocol version
// 2 the host's engine implements exactly the optional interfaces the plugin
// lists, and they answer across the boundary.
func TestStorage_JavaScriptPluginServesItsCapabilities(t *testing.T) {
	plugin := jsPlugin(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e, err := storageplugin.Open(ctx, plugin)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() { _ = e.Close() }()
	if _, ok := e.(storage.Indexer); ok {
		t.Error("the engine is a storage.Indexer; the plugin does not declare indexer")
	}
	if _, ok := e.(storage.Repairer); ok {
		t.Error("the engine is a storage.Repairer; the plugin does not declare repairer")
	}
	if _, ok := e.(storage.ChangeFeed); ok {
		t.Error("the engine is a storage.ChangeFeed; the plugin does not declare change_feed")
	}
	lister, ok := e.(storage.CollectionLister)
	if !ok {
		t.Fatal("the engine is not a storage.CollectionLister")
	}
	explainer, ok := e.(storage.Explainer)
	if !ok {
		t.Fatal("the engine is not a storage.Explainer")
	}
	for _, name := range []string{"zebra", "album", "Émile"} {
		if _, err := e.Collection(ctx, name); err != nil {
			t.Fatalf("Collection(%q): %v", name, err)
		}
	}
	names, err := lister.Collections(ctx)
	if err != nil {
		t.Fatalf("Collections: %v", err)
	}
	// Sorted by bytes: ASCII before "É" (0xC3 0x89).
	if want := []string{"album", "zebra", "Émile"}; !slices.Equal(names, want) {
		t.Errorf("Collections = %q, want %q", names, want)
	}
	sel, err := query.ParseBound("year > ?", 1990)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := explainer.Explain(ctx, "album", sel)
	if err != nil || !strings.Contains(plan, "full scan") {
		t.Errorf("Explain = %q, %v; want a full scan", plan, err)
	}
	if _, err := explainer.Explain(ctx, "album", nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Explain of no selection: %v, want storage.ErrInvalid", err)
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
	// Version 1 has no capability calls but DeclareIndex, which this plugin
	// does not declare.
	if _, ok := e.(storage.CollectionLister); ok {
		t.Error("over version 1 the engine is a storage.CollectionLister")
	}
	if _, ok := e.(storage.Indexer); ok {
		t.Error("over version 1 the engine is a storage.Indexer")
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
