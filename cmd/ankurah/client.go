package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/value"
	ws "github.com/ankurah/ankurah-go/plugins/transport-ws"
)

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// connect starts an ephemeral node connected to a server.
func connect(ctx context.Context, server, token string) (*core.Node, *ws.Client, error) {
	node, err := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	if err != nil {
		return nil, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := ws.Dial(dctx, server, node, ws.WithCredentials(func() []byte { return []byte(token) }))
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, nil, fmt.Errorf("connect to %s: %w", server, err)
	}
	return node, c, nil
}

// parseArg reads a command-line value: JSON when it parses (numbers, true,
// null, objects), a string otherwise.
func parseArg(s string) any {
	if v, err := value.FromJSON([]byte(s)); err == nil {
		return v
	}
	return s
}

type row struct {
	Change string                 `json:"change,omitempty"`
	ID     string                 `json:"id"`
	Values map[string]value.Value `json:"values"`
}

func printView(enc *json.Encoder, change string, v *core.View) error {
	return enc.Encode(row{Change: change, ID: v.ID().String(), Values: v.Values()})
}

func queryCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "ws://127.0.0.1:9797/ws", "server to ask")
	token := fs.String("token", "", "credentials to send")
	watch := fs.Bool("watch", false, "keep following the query and print every change")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return fmt.Errorf("query needs COLLECTION, QUERY and optional ARGS")
	}
	collection, q := fs.Arg(0), fs.Arg(1)
	var qargs []any
	for _, a := range fs.Args()[2:] {
		qargs = append(qargs, parseArg(a))
	}
	node, client, err := connect(ctx, *server, *token)
	if err != nil {
		return err
	}
	defer client.Close()
	c := node.Context(nil)
	enc := json.NewEncoder(stdout)
	if !*watch {
		vs, err := c.Fetch(ctx, collection, q, qargs...)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if err := printView(enc, "", v); err != nil {
				return err
			}
		}
		return nil
	}
	lq, err := c.Query(ctx, collection, q, qargs...)
	if err != nil {
		return err
	}
	defer lq.Close()
	changes := make(chan core.ChangeSet, 64)
	defer lq.Subscribe(func(cs core.ChangeSet) { changes <- cs })()
	for {
		select {
		case <-ctx.Done():
			return nil
		case cs := <-changes:
			for _, ch := range cs.Changes {
				if err := printView(enc, strings.ToLower(ch.Kind.String()), ch.Entity); err != nil {
					return err
				}
			}
		}
	}
}

func createCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "ws://127.0.0.1:9797/ws", "server to write to")
	token := fs.String("token", "", "credentials to send")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return fmt.Errorf("create needs COLLECTION and PROP=VALUE pairs")
	}
	node, client, err := connect(ctx, *server, *token)
	if err != nil {
		return err
	}
	defer client.Close()
	trx := node.Context(nil).Begin()
	m, err := trx.Create(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	for _, kv := range fs.Args()[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q: want PROP=VALUE", kv)
		}
		if err := m.Set(k, parseArg(v)); err != nil {
			return err
		}
	}
	if err := trx.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, m.ID())
	return nil
}
