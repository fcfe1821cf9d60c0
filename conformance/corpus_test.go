package conformance_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/ankurah/ankurah-go/conformance"
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/query"
	"github.com/ankurah/ankurah-go/core/storage"
)

// TestCorpus_BothEvaluatorsAgreeWithExpectations runs every corpus case
// through the interpreter and CEL directly, without any storage engine.
func TestCorpus_BothEvaluatorsAgreeWithExpectations(t *testing.T) {
	files, err := conformance.LoadAnkQL()
	if err != nil {
		t.Fatal(err)
	}
	evaluators := []struct {
		name    string
		compile func(*query.Bound, query.Schema) (query.Program, error)
	}{
		{"interp", query.CompileInterp},
		{"cel", query.CompileCEL},
	}
	for _, f := range files {
		states, _ := f.States(f.Collection)
		for _, ev := range evaluators {
			t.Run(f.Name+"/"+ev.name, func(t *testing.T) {
				for _, c := range f.Cases {
					b, err := query.ParseBound(c.Query, c.ArgsAny()...)
					if err == nil {
						var prog query.Program
						if prog, err = ev.compile(b, nil); err == nil {
							var got []entity.State
							got, err = storage.Residual(clone(states), prog, b.OrderBy, b.Limit)
							if err == nil && !c.Error {
								if cerr := f.Check(c, states, got); cerr != nil {
									t.Error(cerr)
								}
							}
						}
					}
					switch {
					case c.Error && err == nil:
						t.Errorf("%s: no error, want one", c)
					case c.Error && !errors.Is(err, query.ErrSyntax) && !errors.Is(err, query.ErrBind):
						t.Errorf("%s: %v, want an error wrapping query.ErrSyntax or query.ErrBind", c, err)
					case !c.Error && err != nil:
						t.Errorf("%s: %v", c, err)
					case errors.Is(err, query.ErrSyntax) && !syntaxPosition.MatchString(err.Error()):
						t.Errorf("%s: syntax error %q does not name a position", c, err)
					}
				}
			})
		}
	}
}

// TestCorpus_OrderedCasesHaveNoTies checks the corpus itself: an ordered
// case's expected order must follow from its ORDER BY alone, so that it
// never depends on entity ids (ties are tested in storagetest, in Go).
func TestCorpus_OrderedCasesHaveNoTies(t *testing.T) {
	files, err := conformance.LoadAnkQL()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		states, _ := f.States(f.Collection)
		for _, c := range f.Cases {
			n++
			if c.Error {
				continue
			}
			b, err := query.ParseBound(c.Query, c.ArgsAny()...)
			if err != nil {
				t.Errorf("%s/%s: %v", f.Name, c, err)
				continue
			}
			prog, err := query.CompileInterp(b, nil)
			if err != nil {
				t.Errorf("%s/%s: %v", f.Name, c, err)
				continue
			}
			all, err := storage.Residual(clone(states), prog, b.OrderBy, -1)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Ordered && b.HasLimit() && int64(len(all)) > b.Limit && b.Limit > 0 {
				t.Errorf("%s/%s: a LIMIT that cuts an unordered result depends on entity ids; order it", f.Name, c)
			}
			if !c.Ordered {
				continue
			}
			if len(b.OrderBy) == 0 && len(c.Matches) > 1 {
				t.Errorf("%s/%s: ordered without ORDER BY", f.Name, c)
			}
			// Every neighbour pair up to the cut (and the first row past it) must differ.
			last := len(all) - 1
			if b.HasLimit() && b.Limit < int64(len(all)) {
				last = int(b.Limit)
			}
			for i := 1; i <= last; i++ {
				a, z := all[i-1], all[i]
				noIDs := query.CompareRows(b.OrderBy, a.Values, a.ID, z.Values, a.ID)
				if noIDs == 0 {
					t.Errorf("%s/%s: rows %d and %d tie under the ORDER BY; the expected order would depend on entity ids", f.Name, c, i-1, i)
				}
			}
		}
	}
	if n < 150 {
		t.Errorf("the corpus holds %d cases, want at least 150", n)
	}
}

// syntaxPosition is how a syntax error names where it is ("… at 7: …").
var syntaxPosition = regexp.MustCompile(` at [0-9]+`)

func clone(states []entity.State) []entity.State {
	return append([]entity.State(nil), states...)
}
