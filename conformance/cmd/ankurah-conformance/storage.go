package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage"
	storageplugin "github.com/ankurah/ankurah-go/plugins/storage-plugin"
)

// Exit codes.
const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage: ankurah-conformance storage --plugin PATH [--arg ARG]... [--run REGEX] [--json]

Runs the storage conformance suite against a storage plugin binary.
`

// run is the command: it parses args, runs the suite and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "storage" {
		fmt.Fprint(stderr, usage)
		if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
			fmt.Fprintf(stderr, "\nunknown suite %q (the suites: storage)\n", args[0])
		}
		return exitUsage
	}
	fs := flag.NewFlagSet("ankurah-conformance storage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage+"\nFlags:\n"); fs.PrintDefaults() }
	var (
		pluginPath  = fs.String("plugin", "", "path of the storage plugin binary (required)")
		runRE       = fs.String("run", "", "run only the cases whose name matches this regular expression")
		jsonOut     = fs.Bool("json", false, "print the results as JSON")
		verbose     = fs.Bool("v", false, "print every case's log, and the plugin's debug logs")
		caseTimeout = fs.Duration("timeout", 2*time.Minute, "time limit of one case")
		pluginArgs  multiFlag
	)
	fs.Var(&pluginArgs, "arg", "argument to pass to the plugin (repeatable); {dir} becomes a fresh directory per case")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if *pluginPath == "" || fs.NArg() > 0 {
		fs.Usage()
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "\nunexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		}
		return exitUsage
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			fmt.Fprintf(stderr, "ankurah-conformance: --run %q: %v\n", *runRE, err)
			return exitUsage
		}
		filter = re
	}
	if _, err := os.Stat(*pluginPath); err != nil {
		fmt.Fprintf(stderr, "ankurah-conformance: --plugin: %v\n", err)
		return exitUsage
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var cases []storagetest.Case
	for _, c := range storagetest.Cases() {
		if filter == nil || filter.MatchString(c.Name) {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		fmt.Fprintf(stderr, "ankurah-conformance: --run %q matches no case\n", *runRE)
		return exitUsage
	}

	maker := pluginHarness(*pluginPath, pluginArgs, logger, *caseTimeout)
	rep := report{Suite: "storage", Plugin: *pluginPath}
	for _, c := range cases {
		cctx, cancel := context.WithTimeout(ctx, *caseTimeout)
		start := time.Now()
		res := storagetest.Execute(cctx, c, maker)
		if cctx.Err() != nil && res.Status != storagetest.Fail {
			res.Status = storagetest.Fail
			res.Log = append(res.Log, fmt.Sprintf("case did not finish within --timeout %v", *caseTimeout))
		}
		cancel()
		rep.add(res, time.Since(start))
		if ctx.Err() != nil {
			break
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "ankurah-conformance: %v\n", err)
			return exitFail
		}
	} else {
		rep.print(stdout, *verbose)
	}
	if rep.Summary.Failed > 0 || ctx.Err() != nil {
		return exitFail
	}
	return exitPass
}

// pluginHarness starts a fresh plugin process for each case.
func pluginHarness(path string, args []string, logger *slog.Logger, callTimeout time.Duration) storagetest.HarnessMaker {
	return func(ctx context.Context, t storagetest.T) (storagetest.Harness, error) {
		var dir string
		caseArgs := make([]string, len(args))
		for i, a := range args {
			if strings.Contains(a, "{dir}") && dir == "" {
				d, err := os.MkdirTemp("", "ankurah-conformance-")
				if err != nil {
					return nil, err
				}
				dir = d
			}
			caseArgs[i] = strings.ReplaceAll(a, "{dir}", dir)
		}
		cleanup := func() {
			if dir != "" {
				_ = os.RemoveAll(dir)
			}
		}
		e, err := storageplugin.Open(ctx, path,
			storageplugin.WithArgs(caseArgs...),
			storageplugin.WithLogger(logger),
			storageplugin.WithCallTimeout(callTimeout))
		if err != nil {
			cleanup()
			return nil, err
		}
		// The suite runs the cases of every optional interface the plugin
		// declared (the host's engine implements exactly those).
		_, indexes := e.(storage.Indexer)
		_, lookup := e.(storage.CollectionLooker)
		_, repair := e.(storage.Repairer)
		caps := storagetest.Capabilities{Indexes: indexes, Lookup: lookup, Repair: repair}
		return storagetest.NewHarness(e, caps, cleanup), nil
	}
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// report is what the command prints; with --json, exactly this document.
type report struct {
	Suite   string       `json:"suite"`
	Plugin  string       `json:"plugin"`
	Cases   []caseResult `json:"cases"`
	Summary summary      `json:"summary"`
}

type caseResult struct {
	Name       string   `json:"name"`
	Status     string   `json:"status"` // pass, fail or skip
	DurationMS int64    `json:"duration_ms"`
	Log        []string `json:"log,omitempty"`
}

type summary struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

func (r *report) add(res storagetest.Result, d time.Duration) {
	r.Cases = append(r.Cases, caseResult{Name: res.Name, Status: res.Status.String(), DurationMS: d.Milliseconds(), Log: res.Log})
	switch res.Status {
	case storagetest.Pass:
		r.Summary.Passed++
	case storagetest.Fail:
		r.Summary.Failed++
	case storagetest.Skip:
		r.Summary.Skipped++
	}
}

// print writes the table, the logs of failed cases (of every case with
// verbose) and the summary line.
func (r *report) print(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "storage conformance of %s\n\n", r.Plugin)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tRESULT\tTIME\tDETAIL")
	for _, c := range r.Cases {
		detail := ""
		if c.Status != "pass" && len(c.Log) > 0 {
			detail = firstLine(c.Log[len(c.Log)-1])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Status, (time.Duration(c.DurationMS) * time.Millisecond).String(), detail)
	}
	_ = tw.Flush()
	for _, c := range r.Cases {
		if (c.Status == "fail" || verbose) && len(c.Log) > 0 {
			fmt.Fprintf(w, "\n--- %s: %s\n", strings.ToUpper(c.Status), c.Name)
			for _, l := range c.Log {
				fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(l, "\n", "\n    "))
			}
		}
	}
	if r.Summary.Failed > 0 {
		fmt.Fprintf(w, "\nFAILED:")
		for _, c := range r.Cases {
			if c.Status == "fail" {
				fmt.Fprintf(w, " %s", c.Name)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", r.Summary.Passed, r.Summary.Failed, r.Summary.Skipped)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	const max = 100
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
