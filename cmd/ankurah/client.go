package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
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

// parseArg reads a query argument: a JSON literal when it is one (2000,
// true, null, "quoted"), else the text as a string.
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
	server := fs.String("server", "ws://127.0.0.1:9797/ws", "server to ask (several, comma-separated, to fail over among servers sharing one store)")
	token := fs.String("token", "", "credentials to send")
	watch := fs.Bool("watch", false, "keep following the query and print every change")
	models := fs.String("models", os.Getenv("ANKURAH_MODELS"), "directory of the Go package whose //ankurah:model structs declare the collections' references (default $ANKURAH_MODELS): paths through them continue in the referenced collection (`artist.name = ?`)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return fmt.Errorf("query needs COLLECTION, QUERY and optional ARGS")
	}
	schema, err := loadSchema(*models)
	if err != nil {
		return err
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
	if err := node.DeclareRelations(schema.relations()...); err != nil {
		return fmt.Errorf("--models %s: %w", *models, err)
	}
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

// modelsFlag is the --models flag of create and set.
func modelsFlag(fs *flag.FlagSet) *string {
	return fs.String("models", os.Getenv("ANKURAH_MODELS"), "directory of the Go package whose //ankurah:model structs declare the collections' types (default $ANKURAH_MODELS); values are converted to the declared types")
}

// loadSchema reads --models, if given.
func loadSchema(dir string) (modelSchema, error) {
	if dir == "" {
		return modelSchema{}, nil
	}
	s, err := readModels(dir)
	if err != nil {
		return nil, fmt.Errorf("--models %s: %w", dir, err)
	}
	return s, nil
}

func createCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "ws://127.0.0.1:9797/ws", "server to write to (several, comma-separated, to fail over among servers sharing one store)")
	token := fs.String("token", "", "credentials to send")
	models := modelsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return fmt.Errorf("create needs COLLECTION and PROP=VALUE pairs")
	}
	schema, err := loadSchema(*models)
	if err != nil {
		return err
	}
	collection := fs.Arg(0)
	vals, err := buildValues(schema, collection, fs.Args()[1:], func(string) value.Value { return value.Null })
	if err != nil {
		return err
	}
	node, client, err := connect(ctx, *server, *token)
	if err != nil {
		return err
	}
	defer client.Close()
	trx := node.Context(nil).Begin()
	m, err := trx.Create(ctx, collection)
	if err != nil {
		return err
	}
	if err := setAll(m, vals); err != nil {
		return err
	}
	if err := trx.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, m.ID())
	return nil
}

// setCmd runs `ankurah set COLLECTION ID PROP=VALUE...`.
func setCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "ws://127.0.0.1:9797/ws", "server to write to (several, comma-separated, to fail over among servers sharing one store)")
	token := fs.String("token", "", "credentials to send")
	models := modelsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 3 {
		return fmt.Errorf("set needs COLLECTION, ID and PROP=VALUE pairs")
	}
	schema, err := loadSchema(*models)
	if err != nil {
		return err
	}
	collection := fs.Arg(0)
	eid, err := id.ParseEntityID(fs.Arg(1))
	if err != nil {
		return fmt.Errorf("set: %q is not an entity id (create and query print them): %w", fs.Arg(1), err)
	}
	// Check the arguments before connecting; then again against the stored entity.
	if _, err := buildValues(schema, collection, fs.Args()[2:], func(string) value.Value { return value.Null }); err != nil {
		return err
	}
	node, client, err := connect(ctx, *server, *token)
	if err != nil {
		return err
	}
	defer client.Close()
	trx := node.Context(nil).Begin()
	m, err := trx.Edit(ctx, collection, eid)
	if err != nil {
		return fmt.Errorf("set: %s %s: %w", collection, eid, err)
	}
	vals, err := buildValues(schema, collection, fs.Args()[2:], m.Get)
	if err != nil {
		return err
	}
	if err := setAll(m, vals); err != nil {
		return err
	}
	if err := trx.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, m.ID())
	return nil
}

func setAll(m *core.Mut, vals map[string]value.Value) error {
	for k, v := range vals {
		if err := m.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}
