// Command ankurah is the batteries-included Ankurah binary.
//
//	ankurah serve [--addr 127.0.0.1:9797] [--data-dir ankurah-data | --storage URL] [--static dir] [--policy rules.yaml] [--tls-cert F --tls-key F]
//	ankurah query [--server ws://127.0.0.1:9797/ws] [--watch] COLLECTION QUERY [ARGS...]
//	ankurah create [--server …] [--models DIR] COLLECTION prop=value...
//	ankurah set [--server …] [--models DIR] COLLECTION ID prop=value...
//	ankurah admin bad-rows [--data-dir D | --storage URL] [COLLECTION...]
//	ankurah admin remove-row [--data-dir D | --storage URL] COLLECTION KIND KEY
//	ankurah dump [--data-dir D | --storage URL] [--collection NAME]... FILE
//	ankurah load [--data-dir D | --storage URL] FILE
//	ankurah token --policy rules.yaml [--role ROLE]... [--ttl 24h] SUBJECT
//
// serve runs a durable node that clients reach over WebSockets at /ws, with
// /healthz for load balancers; it stops gracefully on SIGINT/SIGTERM.
// Storage URLs: bolt://PATH (the embedded default, in --data-dir), memory://,
// postgres://… , tikv://PD1:2379,PD2:2379, plugin:///path/to/binary.
//
// admin works on a server's storage while the server is stopped (a bolt file
// has one process at a time): bad-rows lists the rows the engine cannot
// decode, which reads skip, and remove-row deletes one (docs/bad-rows.md).
//
// dump writes every collection's states and events to a file, and load
// writes such a file into any engine, idempotently (docs/dump-format.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
}

// errorLine is how the command prints an error: once, with one "ankurah:"
// in front and no prefix repeated (errors wrapped on both ends of a
// connection carry "ankurah:" and their sentinel's text twice).
func errorLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), ": ankurah: ", ": ")
	return "ankurah: " + dedupe(strings.TrimPrefix(msg, "ankurah: "))
}

const usage = `usage:
  ankurah serve  [--addr 127.0.0.1:9797] [--data-dir ankurah-data | --storage URL] [--static DIR]
                 [--policy rules.yaml [--inspect-role admin]] [--models DIR] [--limit NAME=VALUE]... [--attribution 64]
                 [--tls-cert FILE --tls-key FILE] [--allowed-origins PATTERNS]
                 (the sync protocol at /ws, metrics at /metrics, the inspector at /inspect/: docs/operations.md)
  ankurah query  [--server ws://127.0.0.1:9797/ws] [--watch] COLLECTION QUERY [ARGS...]
  ankurah create [--server ws://127.0.0.1:9797/ws] [--models DIR] COLLECTION PROP=VALUE...
  ankurah set    [--server ws://127.0.0.1:9797/ws] [--models DIR] COLLECTION ID PROP=VALUE...
                 (with --models, values convert to the model's types; without, they are JSON literals)
  ankurah admin  bad-rows   [--data-dir ankurah-data | --storage URL] [COLLECTION...]
  ankurah admin  remove-row [--data-dir ankurah-data | --storage URL] COLLECTION KIND KEY
                 (ankurah admin help: rows the storage cannot decode, and removing one)
  ankurah dump   [--data-dir ankurah-data | --storage URL] [--collection NAME]... FILE
  ankurah load   [--data-dir ankurah-data | --storage URL] FILE
                 (every collection's states and events to a file and back: docs/dump-format.md)
  ankurah token  --policy rules.yaml [--role ROLE]... [--ttl 24h] SUBJECT
                 (a development JWT signed with the rules file's HS256 key)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stderr)
	case "query":
		return queryCmd(ctx, args[1:], stdout, stderr)
	case "create":
		return createCmd(ctx, args[1:], stdout, stderr)
	case "set":
		return setCmd(ctx, args[1:], stdout, stderr)
	case "admin":
		return adminCmd(ctx, args[1:], stdout, stderr)
	case "dump":
		return dumpCmd(ctx, args[1:], stdout, stderr)
	case "load":
		return loadCmd(ctx, args[1:], stdout, stderr)
	case "token":
		return tokenCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
