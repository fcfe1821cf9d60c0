package text

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// sharedTracesDir finds the collection of editing traces: $EDITING_TRACES_DIR,
// or shared/ beside the repository ("" if neither has them).
func sharedTracesDir() string {
	for _, dir := range []string{os.Getenv("EDITING_TRACES_DIR"), "../../../shared/data/editing-traces"} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "automerge-paper.json.gz")); err == nil {
			return dir
		}
	}
	return ""
}

// tracesDir is sharedTracesDir, or a skip.
func tracesDir(b *testing.B) string {
	dir := sharedTracesDir()
	if dir == "" {
		b.Skip("automerge-paper.json.gz not found: set EDITING_TRACES_DIR")
	}
	return dir
}

// BenchmarkB4 replays the automerge-paper trace (259,778 single-character
// edits), each edit its own update, like crdt-benchmarks B4. Sub-benchmark
// yjs runs the same with npm yjs (interop/bench-b4.mjs) as the baseline.
func BenchmarkB4(b *testing.B) {
	path := filepath.Join(tracesDir(b), "automerge-paper.json.gz")
	tr := loadTrace(b, path)
	b.Run("go", func(b *testing.B) {
		var d *Doc
		var updateBytes int
		cpu0 := cpuTime()
		for b.Loop() {
			d = NewDoc(1)
			updateBytes = 0
			for _, txn := range tr.Txns {
				applyPatches(b, d, "t", txn.Patches)
				updateBytes += len(d.TakeUpdate())
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		if d.Text("t") != tr.EndContent {
			b.Fatal("wrong end content")
		}
		state := d.EncodeStateAsUpdate()
		start, loadCPU := time.Now(), cpuTime()
		loaded := NewDoc(2)
		if err := loaded.ApplyUpdate(state); err != nil || loaded.Text("t") != tr.EndContent {
			b.Fatalf("load: %v", err)
		}
		load, loadCPU := time.Since(start), cpuTime()-loadCPU
		var before, after runtime.MemStats
		d = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		d = NewDoc(1)
		for _, txn := range tr.Txns {
			applyPatches(b, d, "t", txn.Patches)
			d.TakeUpdate()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(d)
		b.ReportMetric(float64(len(state)), "doc-bytes")
		b.ReportMetric(float64(updateBytes), "update-bytes")
		b.ReportMetric(load.Seconds()*1000, "load-ms")
		b.ReportMetric(loadCPU.Seconds()*1000, "load-cpu-ms")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
	})
	src := NewDoc(1)
	var ups [][]byte
	for _, txn := range tr.Txns {
		applyPatches(b, src, "t", txn.Patches)
		ups = append(ups, src.TakeUpdate())
	}
	// A replica receiving the 259,778 updates one by one, in order.
	b.Run("go-apply-updates", func(b *testing.B) { benchApply(b, ups, tr.EndContent, false) })
	// The same newest first: every update waits for the ones before it until
	// the oldest arrives last.
	b.Run("go-apply-updates-newest-first", func(b *testing.B) { benchApply(b, ups, tr.EndContent, true) })
	b.Run("yjs", func(b *testing.B) {
		node, err := exec.LookPath("node")
		if err != nil {
			b.Skip("node not installed")
		}
		if _, err := os.Stat("interop/node_modules/yjs"); err != nil {
			b.Skip("npm yjs not installed: npm ci --prefix plugins/datatype-text/interop")
		}
		var r struct {
			Ms, CPUMs, DocBytes, UpdateBytes, LoadMs, LoadCPUMs, HeapMiB, ApplyMs, ApplyCPUMs float64
		}
		cpu0 := childCPUTime()
		for b.Loop() {
			out, err := exec.Command(node, "--expose-gc", "interop/bench-b4.mjs", path).Output()
			if err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(out, &r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((childCPUTime()-cpu0).Milliseconds())/float64(b.N), "node-cpu-ms/op")
		b.ReportMetric(r.Ms, "yjs-ms")
		b.ReportMetric(r.CPUMs, "yjs-cpu-ms")
		b.ReportMetric(r.ApplyMs, "apply-updates-ms")
		b.ReportMetric(r.ApplyCPUMs, "apply-updates-cpu-ms")
		b.ReportMetric(r.LoadCPUMs, "load-cpu-ms")
		b.ReportMetric(r.DocBytes, "doc-bytes")
		b.ReportMetric(r.UpdateBytes, "update-bytes")
		b.ReportMetric(r.LoadMs, "load-ms")
		b.ReportMetric(r.HeapMiB, "heap-MiB")
	})
}

// benchApply applies ups to a new document, in order or newest first.
func benchApply(b *testing.B, ups [][]byte, want string, newestFirst bool) {
	var r *Doc
	cpu0 := cpuTime()
	for b.Loop() {
		r = NewDoc(2)
		for i := range ups {
			if newestFirst {
				i = len(ups) - 1 - i
			}
			if err := r.ApplyUpdate(ups[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	if r.Text("t") != want {
		b.Fatal("wrong end content")
	}
}

// cpuTime is the CPU time this process used, user and system: on a shared
// machine it says more than the wall clock.
func cpuTime() time.Duration { return rusage(syscall.RUSAGE_SELF) }

// childCPUTime is the CPU time of finished child processes (node).
func childCPUTime() time.Duration { return rusage(syscall.RUSAGE_CHILDREN) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
