package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ankurah/ankurah-go/core/storage"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

const adminUsage = `usage:
  ankurah admin bad-rows   [--data-dir ankurah-data | --storage URL] [COLLECTION...]
  ankurah admin remove-row [--data-dir ankurah-data | --storage URL] COLLECTION KIND KEY

bad-rows lists the stored rows the engine cannot decode (a state or event written
by an older build, or damaged), one a line, tab-separated:
    COLLECTION  KIND (state|event)  KEY (base64url)  ERROR
Without COLLECTION it looks at every collection. Reads skip these rows, so they
are invisible to clients; each skip logs a warning.

remove-row deletes one such row, named as bad-rows prints it, with the index
entries that refer to it, whether it decodes or not. Removing a state keeps the
entity's events. The row is gone for good: back the storage up first.

Storage is chosen as serve chooses it: the bolt file in --data-dir, or --storage
(bolt://PATH, postgres://…, tikv://PD,…). A bolt file is opened by one process
at a time: stop ankurah serve first. See docs/bad-rows.md.
`

// adminCmd runs `ankurah admin SUBCOMMAND`.
func adminCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "bad-rows":
		return badRowsCmd(ctx, args[1:], stdout, stderr)
	case "remove-row":
		return removeRowCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, adminUsage)
		return nil
	}
	fmt.Fprint(stderr, adminUsage)
	return fmt.Errorf("unknown admin command %q", args[0])
}

// adminFlags are the storage flags of the admin commands, as serve has them.
type adminFlags struct {
	fs         *flag.FlagSet
	dataDir    *string
	storageURL *string
}

func newAdminFlags(name string, stderr io.Writer) adminFlags {
	fs := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := adminFlags{
		fs:         fs,
		dataDir:    fs.String("data-dir", "ankurah-data", "data directory of ankurah serve, holding the bolt database ankurah.db (used when --storage is not given)"),
		storageURL: fs.String("storage", "", "storage engine URL, as given to ankurah serve: bolt://PATH, postgres://…, tikv://PD,…"),
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, adminUsage, "\nflags:\n")
		fs.PrintDefaults()
	}
	return f
}

// open opens the storage the flags name, which must exist and support
// repair. A bolt database is never created here.
func (f adminFlags) open(ctx context.Context) (storage.Engine, storage.Repairer, error) {
	url := f.url()
	if strings.HasPrefix(url, "memory://") {
		return nil, nil, errors.New("memory:// storage lives and dies with its server: there is nothing to repair")
	}
	if path, ok := strings.CutPrefix(url, "bolt://"); ok && path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("no bolt database at %s (see --data-dir and --storage): %w", path, err)
		}
	}
	e, err := openStorageLocked(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	r, ok := e.(storage.Repairer)
	if !ok {
		e.Close()
		return nil, nil, fmt.Errorf("storage %s cannot list or remove rows (ankurah admin works on bolt, postgres and tikv)", url)
	}
	return e, r, nil
}

// url is the storage URL the flags name: --storage, else the bolt file in --data-dir.
func (f adminFlags) url() string {
	if *f.storageURL != "" {
		return *f.storageURL
	}
	return "bolt://" + filepath.Join(*f.dataDir, "ankurah.db")
}

// openStorageLocked is openStorage for the commands that work on a stopped
// server's storage: a locked bolt file says what to do about it.
func openStorageLocked(ctx context.Context, url string) (storage.Engine, error) {
	e, err := openStorage(ctx, url)
	if errors.Is(err, bolt.ErrLocked) {
		return nil, fmt.Errorf("%w\n(a bolt file is opened by one process at a time: stop ankurah serve first)", err)
	}
	return e, err
}

func badRowsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("bad-rows", stderr)
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	e, r, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	names := f.fs.Args()
	if len(names) == 0 {
		l, ok := e.(storage.CollectionLister)
		if !ok {
			return errors.New("bad-rows: this storage cannot list its collections; name them as arguments (ankurah admin bad-rows COLLECTION…)")
		}
		if names, err = l.Collections(ctx); err != nil {
			return fmt.Errorf("bad-rows: listing collections: %w", err)
		}
	}
	n, colls := 0, 0
	for _, name := range names {
		found := false
		err := r.BadRows(ctx, name, func(b storage.BadRow) error {
			n++
			if !found {
				found = true
				colls++
			}
			_, err := fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", printable(b.Collection), b.Kind,
				base64.RawURLEncoding.EncodeToString(b.Key), strings.Join(strings.Fields(b.Err.Error()), " "))
			return err
		})
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("bad-rows: no collection %s", printable(name))
		}
		if err != nil {
			return fmt.Errorf("bad-rows: collection %s: %w", printable(name), err)
		}
	}
	fmt.Fprintf(stderr, "%d undecodable rows in %d of %d collections\n", n, colls, len(names))
	return nil
}

func removeRowCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newAdminFlags("remove-row", stderr)
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() != 3 {
		f.fs.Usage()
		return fmt.Errorf("remove-row: want COLLECTION KIND KEY, got %d arguments", f.fs.NArg())
	}
	collection, kind, keyText := f.fs.Arg(0), f.fs.Arg(1), f.fs.Arg(2)
	if kind != "state" && kind != "event" {
		return fmt.Errorf("remove-row: kind %q: want state or event", kind)
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(keyText, "="))
	if err != nil {
		return fmt.Errorf("remove-row: key %q is not base64url (copy it from bad-rows): %w", keyText, err)
	}
	e, r, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := r.RemoveRow(ctx, collection, kind, key); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("remove-row: no %s %s in collection %s: %w", kind, keyText, printable(collection), err)
		}
		return fmt.Errorf("remove-row: %w", err)
	}
	fmt.Fprintf(stdout, "removed %s %s from %s\n", kind, keyText, printable(collection))
	return nil
}

// printable quotes a collection name that a tab-separated line or a shell
// could misread (Go syntax, as strconv.Quote writes it).
func printable(name string) string {
	if q := strconv.Quote(name); q != `"`+name+`"` || name == "" || strings.ContainsAny(name, " '") {
		return q
	}
	return name
}
