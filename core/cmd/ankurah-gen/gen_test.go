package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/packages"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Each directory of testdata with a model.go is a golden case: the generator
// run there must produce its ankurah_gen.go and ankurah_gen.ts, and every
// case's package with that output must type-check.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/model.go")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	var mu sync.Mutex
	overlay := map[string][]byte{}
	var dirs []string
	t.Run("generate", func(t *testing.T) {
		for _, c := range cases {
			dir := filepath.Dir(c)
			dirs = append(dirs, "./"+filepath.ToSlash(dir))
			t.Run(filepath.Base(dir), func(t *testing.T) {
				t.Parallel()
				out, err := generate(config{Dir: dir, TS: "ankurah_gen.ts"})
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				overlay[out.GoPath] = out.Go
				mu.Unlock()
				for _, f := range []struct {
					path string
					got  []byte
				}{{out.GoPath, out.Go}, {out.TSPath, out.TS}} {
					if *update {
						if err := os.WriteFile(f.path, f.got, 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(f.path)
					if err != nil {
						t.Fatalf("%v (run go test -update to write it)", err)
					}
					if !bytes.Equal(f.got, want) {
						t.Errorf("%s differs from the generator's output (go test -update rewrites it):\n%s", f.path, diff(string(want), string(f.got)))
					}
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedTypes | packages.NeedName, Overlay: overlay}, dirs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Errorf("generated code of %s does not compile: %v", p.PkgPath, e)
		}
	}
}

// diff shows the first differing line of two texts.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n\twant: " + w + "\n\tgot:  " + g
		}
	}
	return "(only line endings differ)"
}

func TestRefusesUnsupportedFields(t *testing.T) {
	pkg, err := load(mustAbs(t, "testdata/bad"), ".", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ  string
		want []string // every one must appear in the error
	}{
		{"Chan", []string{"model Chan", "field C", "chan int"}},
		{"Func", []string{"model Func", "field F", "func()"}},
		{"Complex", []string{"model Complex", "field Z", "complex128"}},
		{"Iface", []string{"model Iface", "field Any", "value.Value"}},
		{"Uintptr", []string{"model Uintptr", "field P", "uintptr"}},
		{"Embedded", []string{"model Embedded", "embedded field Inner"}},
		{"Reserved", []string{"model Reserved", "field ID", "method ID"}},
		{"UnknownOption", []string{"model UnknownOption", "field Year", `"unique"`}},
		{"Duplicate", []string{"model Duplicate", "fields A and B", `"x"`}},
		{"Underscore", []string{"model Underscore", "field A", `"_secret"`}},
		{"PtrPtr", []string{"model PtrPtr", "field P", "**int", "pointer to a pointer"}},
		{"StructKey", []string{"model StructKey", "field M", "map key"}},
		{"NestedChan", []string{"model NestedChan", "field M", "chan int"}},
		{"UsesHalf", []string{"model UsesHalf", "field H", "bad.HalfPlugin", "no method AnkurahMut"}},
		{"UsesWrong", []string{"model UsesWrong", "field W", "bad.WrongMut", "AnkurahMut must be func(property.Handle) T"}},
		{"Collide", []string{"model Collide", "CollideView", "already declares"}},
		{"NotAStruct", []string{"NotAStruct", "not a struct"}},
		{"Generic", []string{"Generic", "generic"}},
		{"Missing", []string{"-type Missing", "no such type"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			_, err := findModels(pkg, []string{tt.typ}, "")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, errModel) {
				t.Errorf("error does not wrap errModel: %v", err)
			}
			want := tt.want
			if tt.typ != "Missing" {
				want = append(want, "bad.go:") // the declaration's position
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNoMarkedModelsIsAnError(t *testing.T) {
	_, err := generate(config{Dir: "testdata/bad"})
	if err == nil || !strings.Contains(err.Error(), markerLine) {
		t.Fatalf("err = %v, want one explaining the %s marker", err, markerLine)
	}
}

func TestTypeFlagSelectsModels(t *testing.T) {
	out, err := generate(config{Dir: "testdata/multi", Types: []string{"HTTPBox"}})
	if err != nil {
		t.Fatal(err)
	}
	src := string(out.Go)
	if !strings.Contains(src, "type HTTPBoxView struct") || strings.Contains(src, "CategoryView") {
		t.Errorf("-type HTTPBox generated the wrong models:\n%s", src)
	}
}

func TestCheckReportsStaleOutput(t *testing.T) {
	if err := run(config{Dir: "testdata/basic", TS: "ankurah_gen.ts", Check: true}); err != nil {
		t.Fatalf("the committed golden output is reported stale: %v", err)
	}
	err := run(config{Dir: "testdata/basic", TS: filepath.Join(t.TempDir(), "missing.ts"), Check: true})
	if !errors.Is(err, errStale) || !strings.Contains(err.Error(), "missing.ts") {
		t.Fatalf("err = %v, want errStale naming missing.ts", err)
	}
}

func TestEarlierOutputUnderAnotherNameIsNamedInTheError(t *testing.T) {
	_, err := generate(config{Dir: "testdata/multi", Out: filepath.Join(t.TempDir(), "elsewhere.go")})
	if err == nil || !strings.Contains(err.Error(), "multi/ankurah_gen.go") || !strings.Contains(err.Error(), "earlier ankurah-gen output") {
		t.Fatalf("err = %v, want one naming testdata/multi/ankurah_gen.go as an earlier output", err)
	}
}

// The previous output must not stop the generator: it is ignored while loading
// even when it no longer compiles against the changed models.
func TestIgnoresStaleOutput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("model.go", "package m\n\n//ankurah:model\ntype Song struct{ Title string }\n")
	write(defaultOut, "package m\n\nfunc (v *SongView) Gone() int { return undefinedThing }\ntype SongView struct{}\n")
	gomod := "module example.com/m\n\ngo 1.25.8\n\nrequire github.com/ankurah/ankurah-go/core v0.0.0\n\nreplace github.com/ankurah/ankurah-go/core => " + mustAbs(t, "../..") + "\n"
	write("go.mod", gomod)
	// Loading a module outside the workspace needs its go.sum; the core
	// module's covers every dependency.
	sum, err := os.ReadFile("../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	out, err := generate(config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out.Go), "func (v *SongView) Title() string") {
		t.Errorf("unexpected output:\n%s", out.Go)
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"Album": "album", "ReleaseYear": "release_year", "AlbumID": "album_id", "HTTPServer": "http_server",
		"ID": "id", "Year2000": "year2000", "URLSlug": "url_slug", "a": "a", "MyHTTP": "my_http",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for in, want := range map[string]string{
		"Album": "Albums", "Category": "Categories", "Day": "Days", "Box": "Boxes", "Match": "Matches", "Bus": "Buses",
	} {
		if got := plural(in); got != want {
			t.Errorf("plural(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLowerFirst(t *testing.T) {
	for in, want := range map[string]string{"Album": "album", "HTTPBox": "httpBox", "ID": "id", "URL": "url", "already": "already"} {
		if got := lowerFirst(in); got != want {
			t.Errorf("lowerFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
