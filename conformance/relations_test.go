package conformance_test

import (
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/conformance"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
)

type corpusRelations map[string]map[string]string

func (r corpusRelations) Target(c, p string) (string, bool) {
	t, ok := r[c][p]
	return t, ok
}

// TestRelationsCorpus_BothEvaluatorsAgreeWithExpectations runs every case
// of the relations corpus through the interpreter and CEL, traversal
// resolved as the node does it (SplitTraversals, CompileTraversed) over the
// file's entities in memory, without any storage engine.
func TestRelationsCorpus_BothEvaluatorsAgreeWithExpectations(t *testing.T) {
	files, err := conformance.LoadRelations()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("the relations corpus is empty")
	}
	evaluators := []struct {
		name    string
		compile func(*query.Bound, query.Schema) (query.Program, error)
	}{
		{"interp", query.CompileInterp},
		{"cel", query.CompileCEL},
	}
	for _, f := range files {
		d := f.States(func(c string) string { return c })
		rels := corpusRelations{}
		for _, r := range f.Relations {
			if rels[r.Collection] == nil {
				rels[r.Collection] = map[string]string{}
			}
			rels[r.Collection][r.Property] = r.Target
		}
		live := map[string]map[id.EntityID]value.Fields{}
		for coll, states := range d.States {
			live[coll] = map[id.EntityID]value.Fields{}
			for _, s := range states {
				if !s.Deleted() {
					live[coll][s.ID] = s.Values
				}
			}
		}
		lookup := func(coll string, eid id.EntityID) (value.Fields, bool) {
			v, ok := live[coll][eid]
			return v, ok
		}
		var roots []entity.State
		for _, s := range d.States[f.Root] {
			if !s.Deleted() {
				roots = append(roots, s)
			}
		}
		for _, ev := range evaluators {
			t.Run(f.Name+"/"+ev.name, func(t *testing.T) {
				for _, c := range f.Cases {
					got, err := evalRelations(c, f.Root, rels, ev.compile, lookup, roots)
					switch {
					case c.Error && err == nil:
						t.Errorf("%s: no error, want one", c)
					case c.Error && !errors.Is(err, query.ErrSyntax) && !errors.Is(err, query.ErrBind) && !errors.Is(err, query.ErrTraversal):
						t.Errorf("%s: %v, want an error wrapping query.ErrSyntax, ErrBind or ErrTraversal", c, err)
					case !c.Error && err != nil:
						t.Errorf("%s: %v", c, err)
					case !c.Error:
						ids := make([]id.EntityID, len(got))
						for i := range got {
							ids[i] = got[i].ID
						}
						if cerr := d.Check(c, ids); cerr != nil {
							t.Error(cerr)
						}
					}
				}
			})
		}
	}
}

func evalRelations(c conformance.CorpusCase, root string, rels query.Relations, compile func(*query.Bound, query.Schema) (query.Program, error), lookup query.Lookup, roots []entity.State) ([]entity.State, error) {
	b, err := query.ParseBound(c.Query, c.ArgsAny()...)
	if err != nil {
		return nil, err
	}
	tr, err := query.SplitTraversals(b.Where, root, rels)
	if err != nil {
		return nil, err
	}
	var prog query.Program
	if tr == nil {
		prog, err = compile(b, nil)
	} else {
		prog, err = query.CompileTraversed(tr, compile, lookup)
	}
	if err != nil {
		return nil, err
	}
	return storage.Residual(clone(roots), prog, b.OrderBy, b.Limit)
}
