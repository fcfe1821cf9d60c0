package storageplugin_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// benchEngine opens an engine under benchmark and returns the pid of its
// plugin process (0 in process), whose CPU time counts too.
type benchEngine struct {
	name string
	open func(b *testing.B) (storage.Engine, int)
}

// benchEngines are the same engines in process and through the plugin
// boundary, so each pair is measured in the same run.
func benchEngines(b *testing.B) []benchEngine {
	plugin := func(name string, args func(dir string) []string) func(b *testing.B) (storage.Engine, int) {
		return func(b *testing.B) (storage.Engine, int) {
			var opts []storageplugin.Option
			if args != nil {
				opts = append(opts, storageplugin.WithArgs(args(b.TempDir())...))
			}
			before := childPIDs(b, bin(b, name))
			e, err := storageplugin.Open(context.Background(), bin(b, name), opts...)
			if err != nil {
				b.Fatal(err)
			}
			for _, pid := range childPIDs(b, bin(b, name)) {
				if !slices.Contains(before, pid) {
					return e, pid
				}
			}
			b.Fatal("cannot find the plugin process")
			return nil, 0
		}
	}
	inProcess := func(open func(b *testing.B) storage.Engine) func(b *testing.B) (storage.Engine, int) {
		return func(b *testing.B) (storage.Engine, int) { return open(b), 0 }
	}
	return []benchEngine{
		{"memory/in-process", inProcess(func(*testing.B) storage.Engine { return memory.New() })},
		{"memory/plugin", plugin("ankurah-storage-memory", nil)},
	}
}

// entityBatch makes a batch that creates n entities of collection.
func entityBatch(collection, prefix string, n int) *storage.Batch {
	b := &storage.Batch{}
	for i := range n {
		ev, st := created(collection, fmt.Sprintf("%s-%d", prefix, i), map[string]value.Value{
			"n":     value.Int(int64(i)),
			"name":  value.String(fmt.Sprintf("entity %d", i)),
			"group": value.String(fmt.Sprintf("g%02d", i%50)),
		})
		b.Events = append(b.Events, ev)
		b.States = append(b.States, storage.StateWrite{State: st})
	}
	return b
}

// BenchmarkApply1000 applies batches of 1,000 new entities (1,000 events
// and 1,000 states each).
func BenchmarkApply1000(b *testing.B) {
	const n = 1000
	for _, eng := range benchEngines(b) {
		b.Run(eng.name, func(b *testing.B) {
			e, pid := eng.open(b)
			defer e.Close()
			ctx := context.Background()
			cpu := startCPU(b, pid)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				cpu.pause(b)
				batch := entityBatch("bench", fmt.Sprintf("apply%d", i), n)
				cpu.resume(b)
				b.StartTimer()
				if err := e.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b, n)
		})
	}
}

// BenchmarkFetchStates10000 fetches all 10,000 entities of a collection.
func BenchmarkFetchStates10000(b *testing.B) {
	const n = 10000
	sel, err := query.ParseBound("true")
	if err != nil {
		b.Fatal(err)
	}
	for _, eng := range benchEngines(b) {
		b.Run(eng.name, func(b *testing.B) {
			e, pid := eng.open(b)
			defer e.Close()
			ctx := context.Background()
			if err := e.Apply(ctx, entityBatch("bench", "fetch", n)); err != nil {
				b.Fatal(err)
			}
			c, err := e.Collection(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			cpu := startCPU(b, pid)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				states, err := c.FetchStates(ctx, sel)
				if err != nil {
					b.Fatal(err)
				}
				if len(states) != n {
					b.Fatalf("fetched %d states, want %d", len(states), n)
				}
			}
			cpu.report(b, n)
		})
	}
}

// cpuClock measures the CPU time (user + system, GC included) of this
// process and of a plugin process: on a shared machine wall time measures
// the neighbours, CPU time measures the work.
//
// The plugin's time is counted from start to report (it idles while the
// benchmark prepares its input); the host's only while resumed.
type cpuClock struct {
	pid            int
	self           time.Duration
	selfAt, plugAt time.Duration
}

func (c *cpuClock) pause(b *testing.B)  { c.self += selfCPU(b) - c.selfAt }
func (c *cpuClock) resume(b *testing.B) { c.selfAt = selfCPU(b) }

func startCPU(b *testing.B, pid int) *cpuClock {
	c := &cpuClock{pid: pid}
	c.selfAt, c.plugAt = selfCPU(b), procCPU(b, pid)
	return c
}

// report adds entities/s (wall), cpu-ms/op (host + plugin) and entities
// per CPU second.
func (c *cpuClock) report(b *testing.B, perOp int) {
	self := c.self + selfCPU(b) - c.selfAt
	plug := procCPU(b, c.pid) - c.plugAt
	total := self + plug
	b.ReportMetric(float64(perOp*b.N)/b.Elapsed().Seconds(), "entities/s")
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	if c.pid != 0 {
		b.ReportMetric(float64(plug.Microseconds())/1000/float64(b.N), "plugin-cpu-ms/op")
	}
	if total > 0 {
		b.ReportMetric(float64(perOp*b.N)/total.Seconds(), "entities/cpu-s")
	}
}

func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU reads a process's utime + stime from /proc (clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
