//go:build !js

package query

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/value"
)

func TestCompileCEL_CostLimitIsAnEvalError(t *testing.T) {
	b, err := ParseBound("year IN (1, 2, 3, 4, 5, 6, 7, 8) AND name LIKE 'x%'")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := compileCEL(b, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prog.Match(value.FieldsOf(album))
	if !errors.Is(err, ErrEval) {
		t.Fatalf("Match over the cost limit: %v, want ErrEval", err)
	}
}

func TestCompileCEL_SameShapeSharesAProgram(t *testing.T) {
	b1, _ := ParseBound("year > ? AND name = ?", 1, "a")
	b2, _ := ParseBound("rating > 2.5 AND artist = 'Miles Davis'")
	p1, err := CompileCEL(b1, nil)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := CompileCEL(b2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p1.(*celProgram).prg != p2.(*celProgram).prg {
		t.Error("two queries of the same shape compiled two CEL programs")
	}
	if ok, _ := p2.Match(value.FieldsOf(album)); !ok {
		t.Error("the shared program did not use its own arguments")
	}
}

func TestMatch_LongestQueryStaysUnderTheCostLimit(t *testing.T) {
	for _, term := range []string{"a=?", "a LIKE ?", "a IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"} {
		q := term
		for len(q)+len(term)+5 <= MaxQueryLength {
			q += " OR " + term
		}
		sel, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		args := make([]any, sel.Placeholders)
		for i := range args {
			args[i] = fmt.Sprintf("%x%%", i)
		}
		b, err := sel.Bind(args...)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := CompileCEL(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := prog.Match(value.FieldsOf(row{"a": value.String("nope")})); ok || err != nil {
			t.Fatalf("%.20s…: %v, %v", q, ok, err)
		}
	}
}

// BenchmarkCompileCELUncached measures a CEL compilation proper (a program
// shape not seen before).
func BenchmarkCompileCELUncached(b *testing.B) {
	bound, err := ParseBound(benchQuery, benchArgs...)
	if err != nil {
		b.Fatal(err)
	}
	g := &celGen{pathIndex: map[string]int{}}
	var src strings.Builder
	g.write(&src, bound.Where, true)
	b.ReportAllocs()
	for b.Loop() {
		env, _ := celEnv()
		ast, iss := env.Compile(src.String())
		if iss.Err() != nil {
			b.Fatal(iss.Err())
		}
		if _, err := env.Program(ast); err != nil {
			b.Fatal(err)
		}
	}
}

// The js/wasm build must not link cel-go (it would add megabytes).
func TestWasmBuild_DoesNotImportCEL(t *testing.T) {
	if testing.Short() {
		t.Skip("go list of the js/wasm build")
	}
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/ankurah/ankurah-go/core/query") {
		t.Fatalf("go list did not list the package:\n%s", out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "cel.dev/") || strings.HasPrefix(pkg, "github.com/google/cel-go") {
			t.Errorf("the js/wasm build imports %s", pkg)
		}
	}
}

func TestCompileCEL_TranslatesThreeValuedLogicToPairedBooleans(t *testing.T) {
	tests := []struct{ query, cel string }{
		{"year > ?", "ankql.cmp(v[0], a[0]) == 1"},
		{"NOT year > ?", "ankql.cmp(v[0], a[0]) in [-1, 0]"},
		{"NOT (a = 1 OR b IS NULL)", "(ankql.cmp(v[0], a[0]) in [-1, 1] && v[1] != null)"},
		{"a IN (1, 2) AND NOT a NOT IN (3)", "(a[0].exists(e, ankql.cmp(v[0], e) == 0) && a[1].exists(e, ankql.cmp(v[0], e) == 0))"},
		{"NOT a IN (1)", "a[0].all(e, ankql.cmp(v[0], e) in [-1, 1])"},
		{"NOT name LIKE 'x%'", "(type(v[0]) == string && type(a[0]) == string && !ankql.like(v[0], a[0]))"},
		{"NOT true OR false", "(false || false)"},
	}
	for _, tt := range tests {
		sel, err := Parse(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		args := make([]any, sel.Placeholders)
		b, err := sel.Bind(args...)
		if err != nil {
			t.Fatal(err)
		}
		g := &celGen{pathIndex: map[string]int{}}
		var src strings.Builder
		g.write(&src, b.Where, true)
		if src.String() != tt.cel {
			t.Errorf("%s:\n got  %s\n want %s", tt.query, src.String(), tt.cel)
		}
	}
}
