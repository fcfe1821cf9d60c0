package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/value"
)

// ErrModels: a --models directory could not be read as Go model declarations.
var ErrModels = errors.New("reading models")

// fieldType is how a model declares one property, as ankurah-gen stores it.
type fieldType struct {
	Kind     value.Kind // the LWW value's kind; KindNull for "any value" (value.Value)
	Nullable bool       // a pointer field: null is allowed
	GoType   string     // the declared Go type, for messages
	Plugin   bool       // a plugin datatype (text.Text…) or another package's type: not set from the command line
	Target   string     // for a core.Ref[T] field of a model T of the same package: T's collection
}

// String names the type for messages: the value kind, with the Go type
// when it says more ("int", "string (Genre)", "int (*int)").
func (f fieldType) String() string {
	if f.Kind == value.KindNull || f.GoType == f.Kind.String() {
		return f.GoType
	}
	return fmt.Sprintf("%s (%s)", f.Kind, f.GoType)
}

// modelSchema is the declared properties of each model's collection.
type modelSchema map[string]map[string]fieldType

// readModels reads the //ankurah:model structs of the Go package in dir,
// naming collections and properties as ankurah-gen does (snake_case, or
// the `ankurah:"name"` tag). It reads source only (no Go toolchain needed):
// types of the package itself are followed (type Genre string is a string),
// and a type of another package is taken as a datatype the command line does
// not set, except id.EntityID (a reference), value.Value (any value),
// json.RawMessage and time.Time (JSON).
func readModels(dir string) (modelSchema, error) {
	fset := gotoken.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModels, err)
	}
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrModels, err)
		}
		files = append(files, f)
	}
	// The package's own type declarations, to see through `type Year int`.
	local := map[string]ast.Expr{}
	var models []*ast.TypeSpec
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != gotoken.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				local[ts.Name.Name] = ts.Type
				if markedModel(ts.Doc) || (len(gd.Specs) == 1 && markedModel(gd.Doc)) {
					models = append(models, ts)
				}
			}
		}
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("%w: no //ankurah:model struct in %s", ErrModels, dir)
	}
	schema := modelSchema{}
	for _, ts := range models {
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return nil, fmt.Errorf("%w: model %s is not a struct", ErrModels, ts.Name.Name)
		}
		props := map[string]fieldType{}
		for _, fld := range st.Fields.List {
			tag := ""
			if fld.Tag != nil {
				tag = reflect.StructTag(strings.Trim(fld.Tag.Value, "`")).Get("ankurah")
			}
			if tag == "-" {
				continue
			}
			for _, n := range fld.Names {
				if !n.IsExported() {
					continue
				}
				prop := snakeCase(n.Name)
				if name, _, _ := strings.Cut(tag, ","); name != "" {
					prop = name
				}
				props[prop] = classify(fld.Type, local, 0)
			}
		}
		schema[snakeCase(ts.Name.Name)] = props
	}
	return schema, nil
}

func markedModel(cg *ast.CommentGroup) bool {
	if cg == nil {
		return false
	}
	for _, c := range cg.List {
		if strings.TrimSpace(c.Text) == "//ankurah:model" {
			return true
		}
	}
	return false
}

// classify maps a field's Go type to the kind ankurah-gen stores it as.
func classify(e ast.Expr, local map[string]ast.Expr, depth int) fieldType {
	text := exprString(e)
	switch t := e.(type) {
	case *ast.StarExpr:
		f := classify(t.X, local, depth)
		f.Nullable, f.GoType = true, text
		return f
	case *ast.Ident:
		switch t.Name {
		case "string":
			return fieldType{Kind: value.KindString, GoType: text}
		case "bool":
			return fieldType{Kind: value.KindBool, GoType: text}
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "uintptr", "byte", "rune":
			return fieldType{Kind: value.KindInt, GoType: text}
		case "float32", "float64":
			return fieldType{Kind: value.KindFloat, GoType: text}
		case "any":
			return fieldType{Kind: value.KindJSON, GoType: text}
		}
		if under, ok := local[t.Name]; ok && depth < 8 {
			f := classify(under, local, depth+1)
			f.GoType = text
			return f
		}
		return fieldType{Kind: value.KindJSON, GoType: text}
	case *ast.ArrayType:
		if id, ok := t.Elt.(*ast.Ident); ok && (id.Name == "byte" || id.Name == "uint8") && t.Len == nil {
			return fieldType{Kind: value.KindBytes, GoType: text}
		}
		return fieldType{Kind: value.KindJSON, GoType: text}
	case *ast.IndexExpr:
		// core.Ref[Artist]: a reference, stored as the entity's id; Artist,
		// a type of this package, names the collection it refers to.
		if x, ok := t.X.(*ast.SelectorExpr); ok && x.Sel.Name == "Ref" {
			f := fieldType{Kind: value.KindRef, GoType: text}
			if target, ok := t.Index.(*ast.Ident); ok {
				if _, local := local[target.Name]; local {
					f.Target = snakeCase(target.Name)
				}
			}
			return f
		}
		return fieldType{Kind: value.KindJSON, GoType: text}
	case *ast.SelectorExpr:
		switch text {
		case "id.EntityID":
			return fieldType{Kind: value.KindRef, GoType: text}
		case "value.Value":
			return fieldType{Kind: value.KindNull, GoType: text}
		case "json.RawMessage", "time.Time":
			return fieldType{Kind: value.KindJSON, GoType: text}
		}
		// Another package's type: a plugin datatype (text.Text) or a type
		// this source-only reading cannot see into; never guessed at.
		return fieldType{Plugin: true, GoType: text}
	}
	return fieldType{Kind: value.KindJSON, GoType: text} // maps, structs, interfaces: encoding/json
}

func exprString(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return "*" + exprString(t.X)
	case *ast.SelectorExpr:
		return exprString(t.X) + "." + t.Sel.Name
	case *ast.ArrayType:
		if t.Len == nil {
			return "[]" + exprString(t.Elt)
		}
		return "[…]" + exprString(t.Elt)
	case *ast.MapType:
		return "map[" + exprString(t.Key) + "]" + exprString(t.Value)
	case *ast.IndexExpr:
		return exprString(t.X) + "[" + exprString(t.Index) + "]"
	}
	return fmt.Sprintf("%T", e)
}

// relations lists the references the models declare (a core.Ref[T] field
// whose T is a model of the package), as ankurah-gen's DeclareRelations
// declares them, in a stable order.
func (s modelSchema) relations() []core.Relation {
	var out []core.Relation
	for coll, props := range s {
		for prop, f := range props {
			if f.Target != "" {
				if _, ok := s[f.Target]; ok {
					out = append(out, core.Relation{Collection: coll, Property: prop, Target: f.Target})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Collection != out[j].Collection {
			return out[i].Collection < out[j].Collection
		}
		return out[i].Property < out[j].Property
	})
	return out
}

// fieldNames lists a model's properties, for messages.
func (s modelSchema) fieldNames(collection string) string {
	var names []string
	for n := range s[collection] {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// snakeCase names collections and properties as ankurah-gen does:
// ReleaseYear -> release_year, AlbumID -> album_id, HTTPServer -> http_server.
// TestModels_NamesMatchTheGenerator holds it to the generator's output.
func snakeCase(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
