package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/value"
)

func reactSchema(t *testing.T) modelSchema {
	t.Helper()
	s, err := readModels(filepath.Join("..", "..", "examples", "react-app", "model"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestModels_NamesMatchTheGenerator holds readModels to what ankurah-gen
// wrote for the same packages: the same collections, and the same plain
// (LWW) properties.
func TestModels_NamesMatchTheGenerator(t *testing.T) {
	setRe := regexp.MustCompile(`m\.Set\("([^"]+)"`)
	nameRe := regexp.MustCompile(`\) Name\(\) string \{ return "([a-z0-9_]+)" \}`)
	for _, dir := range []string{
		"../../examples/react-app/model", "../../examples/albums/models",
		"../../core/cmd/ankurah-gen/testdata/basic", "../../core/cmd/ankurah-gen/testdata/kinds", "../../core/cmd/ankurah-gen/testdata/multi",
	} {
		gen, err := os.ReadFile(filepath.Join(dir, "ankurah_gen.go"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := readModels(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		var wantColls, gotColls, wantProps, gotProps []string
		for _, m := range nameRe.FindAllSubmatch(gen, -1) {
			wantColls = append(wantColls, string(m[1]))
		}
		for _, m := range setRe.FindAllSubmatch(gen, -1) {
			wantProps = append(wantProps, string(m[1]))
		}
		for c, fields := range s {
			gotColls = append(gotColls, c)
			for p, f := range fields {
				if !f.Plugin {
					gotProps = append(gotProps, p)
				}
			}
		}
		for _, l := range [][]string{wantColls, gotColls, wantProps, gotProps} {
			slices.Sort(l)
		}
		wantProps, gotProps = slices.Compact(wantProps), slices.Compact(gotProps)
		if !slices.Equal(wantColls, gotColls) || !slices.Equal(wantProps, gotProps) {
			t.Errorf("%s: collections %v, properties %v; the generator wrote %v, %v", dir, gotColls, gotProps, wantColls, wantProps)
		}
	}
}

func TestBuildValues_TypedModelsConvertOrRefuse(t *testing.T) {
	s := reactSchema(t)
	none := func(string) value.Value { return value.Null }
	got, err := buildValues(s, "album", []string{"year=1999", "name=1999", "artist=B13G8CgIaDLu-Ah4vm2M_IG6nC2mrAoxrto4Y-KdCEU"}, none)
	if err != nil {
		t.Fatal(err)
	}
	if y, ok := got["year"].AsInt(); !ok || y != 1999 {
		t.Errorf("year = %#v", got["year"])
	}
	if n, ok := got["name"].AsString(); !ok || n != "1999" {
		t.Errorf("name = %#v", got["name"])
	}
	if got["artist"].Kind() != value.KindRef {
		t.Errorf("artist = %#v", got["artist"])
	}
	for _, tc := range []struct{ arg, want string }{
		{"year=abc", `field year of album is int: "abc" is not an integer`},
		{"year=20.5", `"20.5" is not an integer`},
		{"notes=hello", "field notes of album is text.Text"},
		{"nosuch=1", "album has no field nosuch (its fields: artist, name, notes, year)"},
		{"year.x=1", "a dotted path reaches only into JSON"},
		{"=1", "an empty name"},
		{"year", "want PROP=VALUE"},
	} {
		_, err := buildValues(s, "album", []string{tc.arg}, none)
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.arg, err, tc.want)
		}
	}
}

func TestBuildValues_KindsOfTheGeneratorsTestModel(t *testing.T) {
	s, err := readModels("../../core/cmd/ankurah-gen/testdata/kinds")
	if err != nil {
		t.Fatal(err)
	}
	none := func(string) value.Value { return value.Null }
	ok := map[string]value.Kind{
		"genre=rock": value.KindString, "live=true": value.KindBool, "small=-3": value.KindInt,
		"score=2.5": value.KindFloat, "cover=aGk=": value.KindBytes, "thumb=aGk": value.KindBytes,
		"rank=null": value.KindNull, "nick=null": value.KindNull, `meta={"producer":"x"}`: value.KindJSON,
		"any=12": value.KindInt, `tags=["a"]`: value.KindJSON,
		"label=B13G8CgIaDLu-Ah4vm2M_IG6nC2mrAoxrto4Y-KdCEU": value.KindRef,
	}
	for arg, kind := range ok {
		got, err := buildValues(s, "record", []string{arg}, none)
		if err != nil {
			t.Errorf("%s: %v", arg, err)
			continue
		}
		for _, v := range got {
			if v.Kind() != kind {
				t.Errorf("%s: kind %s, want %s", arg, v.Kind(), kind)
			}
		}
	}
	for arg, want := range map[string]string{
		"live=yes": "is not true or false", "genre=null": "", "label=x": "is not an entity id",
		"meta=nope": "is not JSON", "likes=1": "counter.Counter",
	} {
		_, err := buildValues(s, "record", []string{arg}, none)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v (a non-nullable string takes the text null)", arg, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", arg, err, want)
		}
	}
}

func TestBuildValues_UntypedTakesJSONLiteralsAndPaths(t *testing.T) {
	cur := map[string]value.Value{"meta": value.MustJSON(`{"producer":{"name":"Leckie","year":1995},"label":"x"}`), "n": value.Int(1)}
	got, err := buildValues(modelSchema{}, "album",
		[]string{"year=2001", `name="1999"`, "artist=true", "meta.producer.name=\"John\"", "meta.tracks=12", "big=9007199254740993", `"release date"=null`},
		func(p string) value.Value { return cur[p] })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"year": "int(2001)", "name": `string('1999')`, "artist": "bool(true)", "big": "int(9007199254740993)",
		"meta": `json({"label":"x","producer":{"name":"John","year":1995},"tracks":12})`, "release date": "null(NULL)",
	}
	for p, w := range want {
		if g := got[p].GoString(); g != w {
			t.Errorf("%s = %s, want %s", p, g, w)
		}
	}
	for _, tc := range []struct{ arg, want string }{
		{"name=Muse", `write strings quoted (name='"Muse"')`},
		{"meta.producer.name=John", `inside JSON, write strings quoted`},
		{"n.x=1", "n holds int 1, not a JSON object"},
		{`"unterminated=1`, "unterminated quoted name"},
	} {
		_, err := buildValues(modelSchema{}, "album", []string{tc.arg}, func(p string) value.Value { return cur[p] })
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.arg, err, tc.want)
		}
	}
	if _, err := buildValues(modelSchema{}, "album", []string{"meta=1", "meta.x=2"}, func(string) value.Value { return value.Null }); !errors.Is(err, ErrBadValue) {
		t.Errorf("whole and dotted: %v", err)
	}
}

// A core.Ref[T] field is a reference: create takes an entity id for it and
// refuses anything else.
func TestBuildValues_RefFieldsTakeEntityIDs(t *testing.T) {
	s, err := readModels("../../core/cmd/ankurah-gen/testdata/relations")
	if err != nil {
		t.Fatal(err)
	}
	none := func(string) value.Value { return value.Null }
	got, err := buildValues(s, "album", []string{"artist=B13G8CgIaDLu-Ah4vm2M_IG6nC2mrAoxrto4Y-KdCEU"}, none)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got {
		if v.Kind() != value.KindRef {
			t.Fatalf("artist: kind %s, want ref", v.Kind())
		}
	}
	if _, err := buildValues(s, "album", []string{"artist=Muse"}, none); err == nil || !strings.Contains(err.Error(), "is not an entity id") {
		t.Fatalf("artist=Muse: %v, want a refusal naming the entity id", err)
	}
}

// TestModels_RelationsMatchTheGenerator holds readModels' relations to the
// ones ankurah-gen's DeclareRelations declares for the same packages.
func TestModels_RelationsMatchTheGenerator(t *testing.T) {
	relRe := regexp.MustCompile(`\{Collection: "([a-z0-9_]+)", Property: "([a-z0-9_]+)", Target: "([a-z0-9_]+)"\}`)
	for _, dir := range []string{"../../examples/react-app/model", "../../core/cmd/ankurah-gen/testdata/relations", "../../core/cmd/ankurah-gen/testdata/kinds"} {
		gen, err := os.ReadFile(filepath.Join(dir, "ankurah_gen.go"))
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, m := range relRe.FindAllSubmatch(gen, -1) {
			want = append(want, string(m[1])+"."+string(m[2])+"->"+string(m[3]))
		}
		s, err := readModels(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s.relations() {
			got = append(got, r.Collection+"."+r.Property+"->"+r.Target)
		}
		slices.Sort(want)
		if !slices.Equal(want, got) {
			t.Errorf("%s: relations %v; the generator declares %v", dir, got, want)
		}
	}
	if got := reactSchema(t).relations(); len(got) != 1 || got[0].Collection != "album" || got[0].Property != "artist" || got[0].Target != "artist" {
		t.Errorf("the example app's relations: %v", got)
	}
}
