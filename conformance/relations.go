package conformance

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/json"
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

// The relations corpus (testdata/relations/<topic>.json) is the AnkQL
// corpus for paths that follow references: several collections, the
// relations declared between them, and cases run from a root collection.
//
//	{"root": "album",
//	 "relations": [{"collection": "album", "property": "artist", "target": "artist"}, …],
//	 "collections": {"artist": [{"label": "muse", "data": {"name": "Muse"}, "refs": {"label": "warp"}},
//	                            {"label": "gone", "data": {…}, "deleted": true}, …], …},
//	 "cases": [{"query": "artist.name = ?", "args": ["Muse"], "matches": ["a1"]}, …]}
//
// Data reads as in the AnkQL corpus. "refs" maps a property to the label of
// the entity it refers to, in the relation's target collection; a label no
// entity has is a reference to a missing entity. "deleted" stores the
// entity deleted. Labels are unique across the file; matches name entities
// of the root collection.

//go:embed testdata/relations/*.json
var embeddedRelations embed.FS

// RelationsCorpus returns the embedded relations corpus, the files of
// testdata/relations.
func RelationsCorpus() fs.FS {
	sub, err := fs.Sub(embeddedRelations, "testdata/relations")
	if err != nil {
		panic(err) // the embedded tree always has this directory
	}
	return sub
}

// RelationsFile is one file of the relations corpus.
type RelationsFile struct {
	// Name is the file name without ".json".
	Name string
	// Root is the collection the cases query.
	Root string
	// Relations are the references declared between the file's collections.
	Relations []CorpusRelation
	// Collections holds each collection's entities, by collection name.
	Collections map[string][]RelationsEntity
	Cases       []CorpusCase
}

// CorpusRelation declares that Property of Collection refers to Target.
type CorpusRelation struct {
	Collection, Property, Target string
}

// RelationsEntity is one entity of a relations corpus file.
type RelationsEntity struct {
	CorpusEntity
	// Refs maps a property to the label of the entity it refers to.
	Refs map[string]string
	// Deleted: the entity is stored deleted.
	Deleted bool
}

type relationsJSON struct {
	Root      string `json:"root"`
	Relations []struct {
		Collection string `json:"collection"`
		Property   string `json:"property"`
		Target     string `json:"target"`
	} `json:"relations"`
	Collections map[string][]struct {
		Label   string                     `json:"label"`
		Data    map[string]json.RawMessage `json:"data"`
		Refs    map[string]string          `json:"refs"`
		Deleted bool                       `json:"deleted"`
	} `json:"collections"`
	Cases []struct {
		Query   string            `json:"query"`
		Args    []json.RawMessage `json:"args"`
		Matches []string          `json:"matches"`
		Ordered bool              `json:"ordered"`
		Error   bool              `json:"error"`
	} `json:"cases"`
}

// LoadRelations loads the embedded relations corpus.
func LoadRelations() ([]RelationsFile, error) { return LoadRelationsCorpus(RelationsCorpus()) }

// LoadRelationsCorpus reads every *.json file at the root of fsys as a
// relations corpus file and checks it: the root and every relation's
// collections present, refs only on declared relations, labels unique,
// matches naming entities of the root collection.
func LoadRelationsCorpus(fsys fs.FS) ([]RelationsFile, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []RelationsFile
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		f, err := parseRelations(strings.TrimSuffix(path.Base(n), ".json"), b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseRelations(name string, b []byte) (RelationsFile, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var fj relationsJSON
	if err := d.Decode(&fj); err != nil {
		return RelationsFile{}, fmt.Errorf("%w: %v", ErrCorpus, err)
	}
	f := RelationsFile{Name: name, Root: fj.Root, Collections: map[string][]RelationsEntity{}}
	if _, ok := fj.Collections[f.Root]; !ok {
		return f, fmt.Errorf("%w: root collection %q has no entities", ErrCorpus, f.Root)
	}
	targets := map[string]map[string]string{}
	for _, r := range fj.Relations {
		if _, ok := fj.Collections[r.Collection]; !ok {
			return f, fmt.Errorf("%w: relation %s.%s: no collection %q", ErrCorpus, r.Collection, r.Property, r.Collection)
		}
		if _, ok := fj.Collections[r.Target]; !ok {
			return f, fmt.Errorf("%w: relation %s.%s: no collection %q", ErrCorpus, r.Collection, r.Property, r.Target)
		}
		if targets[r.Collection] == nil {
			targets[r.Collection] = map[string]string{}
		}
		targets[r.Collection][r.Property] = r.Target
		f.Relations = append(f.Relations, CorpusRelation{Collection: r.Collection, Property: r.Property, Target: r.Target})
	}
	labels := map[string]string{} // label -> collection
	for coll, ents := range fj.Collections {
		for _, ej := range ents {
			if ej.Label == "" || labels[ej.Label] != "" {
				return f, fmt.Errorf("%w: entity label %q empty or repeated", ErrCorpus, ej.Label)
			}
			labels[ej.Label] = coll
			e := RelationsEntity{CorpusEntity: CorpusEntity{Label: ej.Label, Values: map[string]value.Value{}}, Refs: ej.Refs, Deleted: ej.Deleted}
			for k, raw := range ej.Data {
				v, err := value.FromJSON(raw)
				if err != nil {
					return f, fmt.Errorf("%w: entity %q property %q: %v", ErrCorpus, ej.Label, k, err)
				}
				if !v.IsNull() {
					e.Values[k] = v
				}
			}
			for p := range ej.Refs {
				if _, ok := targets[coll][p]; !ok {
					return f, fmt.Errorf("%w: entity %q refers through %q, which no relation of %q declares", ErrCorpus, ej.Label, p, coll)
				}
				if _, dup := e.Values[p]; dup {
					return f, fmt.Errorf("%w: entity %q sets %q both as data and as a ref", ErrCorpus, ej.Label, p)
				}
			}
			f.Collections[coll] = append(f.Collections[coll], e)
		}
	}
	for i, cj := range fj.Cases {
		c := CorpusCase{Query: cj.Query, Matches: cj.Matches, Ordered: cj.Ordered, Error: cj.Error}
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
			if labels[m] != f.Root || seen[m] {
				return f, fmt.Errorf("%w: case %d (%s) matches %q, not a distinct entity of %q", ErrCorpus, i, c.Query, m, f.Root)
			}
			seen[m] = true
		}
		f.Cases = append(f.Cases, c)
	}
	return f, nil
}

// RelationsData is a relations file's entities as states, for collections
// renamed by the suite running it.
type RelationsData struct {
	// States and Events hold each collection's states and their genesis
	// events, by the file's collection name.
	States map[string][]entity.State
	Events []event.Event
	labels map[id.EntityID]string
	ids    map[string]id.EntityID
}

// States returns the file's entities as states of the collections
// name(collection) names, refs resolved to entity ids (a label no entity
// has becomes the id of an entity that is never stored). Backends hold
// opaque bytes.
func (f *RelationsFile) States(name func(collection string) string) *RelationsData {
	d := &RelationsData{States: map[string][]entity.State{}, labels: map[id.EntityID]string{}, ids: map[string]id.EntityID{}}
	target := map[string]map[string]string{}
	for _, r := range f.Relations {
		if target[r.Collection] == nil {
			target[r.Collection] = map[string]string{}
		}
		target[r.Collection][r.Property] = r.Target
	}
	idOf := func(coll, label string) id.EntityID {
		if eid, ok := d.ids[label]; ok {
			return eid
		}
		return genesisOf(name(coll), label).Entity
	}
	colls := make([]string, 0, len(f.Collections))
	for c := range f.Collections {
		colls = append(colls, c)
	}
	sort.Strings(colls)
	for _, coll := range colls {
		for _, e := range f.Collections[coll] {
			ev := genesisOf(name(coll), e.Label)
			d.ids[e.Label] = ev.Entity
			d.labels[ev.Entity] = e.Label
		}
	}
	for _, coll := range colls {
		for _, e := range f.Collections[coll] {
			ev := genesisOf(name(coll), e.Label)
			d.Events = append(d.Events, ev)
			values := make(map[string]value.Value, len(e.Values)+len(e.Refs)+1)
			for k, v := range e.Values {
				values[k] = v
			}
			for p, l := range e.Refs {
				values[p] = value.Ref(idOf(target[coll][p], l))
			}
			if e.Deleted {
				values[entity.DeletedProperty] = value.Bool(true)
			}
			d.States[coll] = append(d.States[coll], entity.State{
				ID:         ev.Entity,
				Collection: name(coll),
				Head:       event.NewClock(ev.ID()),
				Backends:   entity.BackendsOf(map[string][]byte{"lww": append([]byte{0xff, 0x00}, e.Label...)}),
				Values:     value.FieldsOf(values),
			})
		}
	}
	return d
}

func genesisOf(collection, label string) event.Event {
	sum := sha256.Sum256([]byte(collection + "\x00" + label))
	return event.NewGenesis(collection, map[string][]byte{"lww": []byte(label)}, sum[:event.NonceSize], 1_700_000_000_000)
}

// Check compares the ids a query returned with the case's expectation, as
// CorpusFile.Check does: the same entities, in the expected order when
// Ordered, else in ascending entity-id order.
func (d *RelationsData) Check(c CorpusCase, got []id.EntityID) error {
	gotLabels := make([]string, len(got))
	for i, eid := range got {
		l, ok := d.labels[eid]
		if !ok {
			l = "?" + eid.String()
		}
		gotLabels[i] = l
	}
	want := slices.Clone(c.Matches)
	if !c.Ordered {
		slices.SortFunc(want, func(a, b string) int { return d.ids[a].Compare(d.ids[b]) })
	}
	if slices.Equal(gotLabels, want) {
		return nil
	}
	return fmt.Errorf("%s: got %v, want %v", c, gotLabels, want)
}
