// Package conformance holds what the conformance suites share: the AnkQL
// corpus, a set of JSON files of entities and queries with their expected
// answers that every storage engine and both query evaluators must agree
// with. The suites themselves are its subpackages (storagetest, …).
//
// A corpus file (testdata/ankql/<topic>.json) reads:
//
//	{"collection": "albums",
//	 "entities": [{"label": "a", "data": {"year": 1969, "meta": {"tracks": 12}}}, …],
//	 "cases": [{"query": "year > ? ORDER BY year", "args": [1960], "matches": ["a"], "ordered": true},
//	           {"query": "year IN ()", "error": true}, …]}
//
// Each data property and each arg is read by value.FromJSON: integers are
// int, numbers with a fraction or exponent float, objects and arrays json,
// null is NULL (an absent property). Matches are entity labels, compared as
// a set unless "ordered" (and then in ascending entity-id order, the order
// of unordered results). An ordered case never relies on ties: its order
// follows from the ORDER BY alone. "error" cases must fail to parse, bind,
// compile or run.
package conformance

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

//go:embed testdata/ankql/*.json
var embedded embed.FS

// ErrCorpus is wrapped by errors about a malformed corpus file.
var ErrCorpus = errors.New("conformance: invalid corpus")

// Corpus returns the embedded AnkQL corpus, the files of testdata/ankql.
func Corpus() fs.FS {
	sub, err := fs.Sub(embedded, "testdata/ankql")
	if err != nil {
		panic(err) // the embedded tree always has this directory
	}
	return sub
}

// LoadAnkQL loads the embedded AnkQL corpus.
func LoadAnkQL() ([]CorpusFile, error) { return LoadCorpus(Corpus()) }

// CorpusFile is one file of the corpus: a collection of entities and the
// queries run against it.
type CorpusFile struct {
	// Name is the file name without ".json"; files are loaded in name order.
	Name string
	// Collection is the collection name the file suggests (suites make it unique).
	Collection string
	Entities   []CorpusEntity
	Cases      []CorpusCase
}

// CorpusEntity is one entity of a corpus file.
type CorpusEntity struct {
	// Label names the entity in the cases' expected matches.
	Label string
	// Values are the entity's property values: each JSON property as
	// value.FromJSON reads it (integers int, other numbers float, objects and
	// arrays json, null absent).
	Values map[string]value.Value
}

// CorpusCase is one query and its expected answer.
type CorpusCase struct {
	Query string
	// Args bind the query's ? placeholders, each read by value.FromJSON.
	Args []value.Value
	// Matches are the labels of the entities the query returns. Unless
	// Ordered, they compare as a set (and results must come in ascending
	// entity-id order, which Check verifies).
	Matches []string
	// Ordered: Matches is the exact order of the results. Ordered cases have
	// no ties under their ORDER BY, so the order never depends on entity ids.
	Ordered bool
	// Error: parsing, binding, compiling or running the query must fail.
	Error bool
}

// ArgsAny returns Args as the ...any that query binding takes.
func (c CorpusCase) ArgsAny() []any {
	out := make([]any, len(c.Args))
	for i, a := range c.Args {
		out[i] = a
	}
	return out
}

// String names the case in failure messages.
func (c CorpusCase) String() string {
	if len(c.Args) == 0 {
		return fmt.Sprintf("%q", c.Query)
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = a.Text()
	}
	return fmt.Sprintf("%q with args (%s)", c.Query, strings.Join(args, ", "))
}

type fileJSON struct {
	Collection string `json:"collection"`
	Entities   []struct {
		Label string                     `json:"label"`
		Data  map[string]json.RawMessage `json:"data"`
	} `json:"entities"`
	Cases []struct {
		Query   string            `json:"query"`
		Args    []json.RawMessage `json:"args"`
		Matches []string          `json:"matches"`
		Ordered bool              `json:"ordered"`
		Error   bool              `json:"error"`
	} `json:"cases"`
}

// LoadCorpus reads every *.json file at the root of fsys as a corpus file
// and checks it: labels unique and non-empty, matches naming known labels,
// error cases without matches.
func LoadCorpus(fsys fs.FS) ([]CorpusFile, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []CorpusFile
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		f, err := parseFile(strings.TrimSuffix(path.Base(n), ".json"), b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseFile(name string, b []byte) (CorpusFile, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var fj fileJSON
	if err := d.Decode(&fj); err != nil {
		return CorpusFile{}, fmt.Errorf("%w: %v", ErrCorpus, err)
	}
	f := CorpusFile{Name: name, Collection: fj.Collection}
	if f.Collection == "" {
		return f, fmt.Errorf("%w: no collection", ErrCorpus)
	}
	labels := map[string]bool{}
	for _, ej := range fj.Entities {
		if ej.Label == "" || labels[ej.Label] {
			return f, fmt.Errorf("%w: entity label %q empty or repeated", ErrCorpus, ej.Label)
		}
		labels[ej.Label] = true
		e := CorpusEntity{Label: ej.Label, Values: map[string]value.Value{}}
		for k, raw := range ej.Data {
			v, err := value.FromJSON(raw)
			if err != nil {
				return f, fmt.Errorf("%w: entity %q property %q: %v", ErrCorpus, ej.Label, k, err)
			}
			if !v.IsNull() {
				e.Values[k] = v
			}
		}
		f.Entities = append(f.Entities, e)
	}
	for i, cj := range fj.Cases {
		c := CorpusCase{Query: cj.Query, Matches: cj.Matches, Ordered: cj.Ordered, Error: cj.Error}
		if c.Query == "" && !c.Error {
			return f, fmt.Errorf("%w: case %d has no query", ErrCorpus, i)
		}
		for j, raw := range cj.Args {
			v, err := value.FromJSON(raw)
			if err != nil {
				return f, fmt.Errorf("%w: case %d arg %d: %v", ErrCorpus, i, j, err)
			}
			c.Args = append(c.Args, v)
		}
		if c.Error && (len(c.Matches) > 0 || c.Ordered) {
			return f, fmt.Errorf("%w: case %d (%s) expects an error and results", ErrCorpus, i, c.Query)
		}
		seen := map[string]bool{}
		for _, m := range c.Matches {
			if !labels[m] || seen[m] {
				return f, fmt.Errorf("%w: case %d (%s) matches unknown or repeated label %q", ErrCorpus, i, c.Query, m)
			}
			seen[m] = true
		}
		f.Cases = append(f.Cases, c)
	}
	return f, nil
}

// States returns the file's entities as states of collection, each with a
// genesis event whose id depends only on collection and label. Backends
// hold opaque bytes.
func (f *CorpusFile) States(collection string) ([]entity.State, []event.Event) {
	states := make([]entity.State, len(f.Entities))
	events := make([]event.Event, len(f.Entities))
	for i, e := range f.Entities {
		sum := sha256.Sum256([]byte(collection + "\x00" + e.Label))
		ev := event.NewGenesis(collection, map[string][]byte{"lww": []byte(e.Label)}, sum[:event.NonceSize], 1_700_000_000_000)
		events[i] = ev
		values := make(map[string]value.Value, len(e.Values))
		for k, v := range e.Values {
			values[k] = v
		}
		states[i] = entity.State{
			ID:         ev.Entity,
			Collection: collection,
			Head:       event.NewClock(ev.ID()),
			Backends:   entity.BackendsOf(map[string][]byte{"lww": append([]byte{0xff, 0x00}, e.Label...)}),
			Values:     value.FieldsOf(values),
		}
	}
	return states, events
}

// Properties returns the names of the properties the file's entities use, sorted.
func (f *CorpusFile) Properties() []string {
	set := map[string]bool{}
	for _, e := range f.Entities {
		for k := range e.Values {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Check compares the states a query returned (from states made by States)
// with the case's expectation: the same entities, in the expected order
// when Ordered, else in ascending entity-id order. It returns nil or an
// error describing the difference in labels.
func (f *CorpusFile) Check(c CorpusCase, all, got []entity.State) error {
	label := map[id.EntityID]string{}
	byLabel := map[string]id.EntityID{}
	for i, s := range all {
		label[s.ID] = f.Entities[i].Label
		byLabel[f.Entities[i].Label] = s.ID
	}
	gotLabels := make([]string, len(got))
	for i, s := range got {
		l, ok := label[s.ID]
		if !ok {
			l = "?" + s.ID.String()
		}
		gotLabels[i] = l
	}
	want := slices.Clone(c.Matches)
	if !c.Ordered {
		slices.SortFunc(want, func(a, b string) int { return byLabel[a].Compare(byLabel[b]) })
	}
	if slices.Equal(gotLabels, want) {
		return nil
	}
	if !c.Ordered {
		g, w := slices.Clone(gotLabels), slices.Clone(want)
		sort.Strings(g)
		sort.Strings(w)
		if slices.Equal(g, w) {
			return fmt.Errorf("%s: results %v not in ascending entity-id order %v", c, gotLabels, want)
		}
	}
	return fmt.Errorf("%s: got %v, want %v", c, gotLabels, want)
}
