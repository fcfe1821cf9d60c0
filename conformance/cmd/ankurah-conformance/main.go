// Command ankurah-conformance runs Ankurah's conformance suites against an
// out-of-process plugin, without `go test`:
//
//	ankurah-conformance storage --plugin ./my-backend [--arg ARG]... [--run REGEX] [--json]
//
// runs every case of the storage suite (conformance/storagetest) against the
// storage plugin binary ./my-backend — one fresh plugin process per case —
// prints a table of the cases (pass, fail, or skip with the reason) and a
// summary, and exits 1 if any case failed (2 for a usage error).
//
// --arg passes an argument to the plugin; "{dir}" in it is replaced by an
// empty directory made for each case (a bolt plugin's data file:
// --arg '{dir}/data.db'). --run keeps only the cases whose name matches the
// regular expression. --json prints one JSON document instead of the table.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
