package main

import (
	"bytes"
	"fmt"
	"go/types"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// renderTS returns TypeScript interfaces describing the models' property
// values as the browser bindings see them, and each collection's name.
func renderTS(pkg *types.Package, models []*model) []byte {
	var b bytes.Buffer
	b.Write(header("//"))
	fmt.Fprintf(&b, "// Models of Go package %s.\n", pkg.Path())
	if hasModelRefs(models) {
		b.WriteString("\n/** Ref is the id of an entity of the model T (a core.Ref[T] field). */\n")
		b.WriteString("export type Ref<T> = string & { readonly __refTo?: T };\n")
	}
	for _, m := range models {
		fmt.Fprintf(&b, "\n/** %s is a record of the %q collection. */\n", m.Name, m.Collection)
		fmt.Fprintf(&b, "export interface %s {\n", m.Name)
		for _, f := range m.Fields {
			fmt.Fprintf(&b, "  %s: %s;", tsKey(f.Prop), tsField(f))
			switch f.Kind {
			case kindRef:
				b.WriteString(" // entity id")
			case kindModelRef:
				fmt.Fprintf(&b, " // ref to %s (%q)", f.RefTarget.Name, f.RefTarget.Collection)
			case kindPlugin:
				fmt.Fprintf(&b, " // plugin datatype %s", types.TypeString(f.Plugin, qualifyByPath))
			}
			b.WriteString("\n")
		}
		b.WriteString("}\n")
		fmt.Fprintf(&b, "\n/** The name of the collection of %s records. */\n", m.Name)
		fmt.Fprintf(&b, "export const %sCollection = %q;\n", m.Name, m.Collection)
		var rels []string
		for _, f := range m.Fields {
			if f.Kind == kindModelRef {
				rels = append(rels, fmt.Sprintf("%s: %q", tsKey(f.Prop), f.RefTarget.Collection))
			}
		}
		if len(rels) > 0 {
			fmt.Fprintf(&b, "\n/** The collections the references of %s records name (AnkQL paths through them continue there). */\n", m.Name)
			fmt.Fprintf(&b, "export const %sRelations = { %s } as const;\n", m.Name, strings.Join(rels, ", "))
		}
	}
	return b.Bytes()
}

var tsIdent = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

func tsKey(name string) string {
	if tsIdent.MatchString(name) {
		return name
	}
	return strconv.Quote(name)
}

func tsField(f *field) string {
	var t string
	switch f.Kind {
	case kindString, kindRef:
		t = "string"
	case kindBool:
		t = "boolean"
	case kindInt, kindUint, kindFloat:
		t = "number"
	case kindModelRef:
		return "Ref<" + f.RefTarget.Name + "> | null"
	case kindBytes:
		t = "Uint8Array"
	case kindJSON:
		t = tsJSON(f.Elem, nil)
	default:
		t = "unknown"
	}
	if f.Nullable {
		t += " | null"
	}
	return t
}

// tsJSON is the TypeScript type of what encoding/json makes of t.
func tsJSON(t types.Type, seen []types.Type) string {
	for _, s := range seen {
		if types.Identical(s, t) {
			return "unknown" // a recursive type
		}
	}
	seen = append(seen, t)
	if implements(t, "MarshalJSON") {
		return "unknown"
	}
	if implements(t, "MarshalText") {
		return "string"
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsString != 0:
			return "string"
		case u.Kind() == types.Bool:
			return "boolean"
		case u.Info()&types.IsNumeric != 0:
			return "number"
		}
	case *types.Pointer:
		return tsJSON(u.Elem(), seen) + " | null"
	case *types.Slice:
		if b, ok := u.Elem().Underlying().(*types.Basic); ok && b.Kind() == types.Byte {
			return "string" // base64
		}
		return tsArray(tsJSON(u.Elem(), seen))
	case *types.Array:
		return tsArray(tsJSON(u.Elem(), seen))
	case *types.Map:
		// Not Record<string, T>: a model named Record would shadow it.
		return "{ [key: string]: " + tsJSON(u.Elem(), seen) + " }"
	case *types.Struct:
		var parts []string
		tsStruct(u, seen, &parts)
		if len(parts) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(parts, "; ") + " }"
	}
	return "unknown"
}

func tsArray(elem string) string {
	if strings.ContainsAny(elem, " |") {
		return "(" + elem + ")[]"
	}
	return elem + "[]"
}

// tsStruct lists a struct's JSON members, flattening untagged embedded
// structs as encoding/json does.
func tsStruct(s *types.Struct, seen []types.Type, parts *[]string) {
	for i := 0; i < s.NumFields(); i++ {
		f := s.Field(i)
		tag := reflect.StructTag(s.Tag(i)).Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Embedded() && name == "" {
			t := f.Type()
			if p, ok := t.Underlying().(*types.Pointer); ok {
				t = p.Elem()
			}
			if es, ok := t.Underlying().(*types.Struct); ok {
				tsStruct(es, seen, parts)
				continue
			}
		}
		if !f.Exported() {
			continue
		}
		if name == "" {
			name = f.Name()
		}
		key := tsKey(name)
		if strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,") {
			key += "?"
		}
		*parts = append(*parts, key+": "+tsJSON(f.Type(), seen))
	}
}

func hasModelRefs(models []*model) bool {
	for _, m := range models {
		for _, f := range m.Fields {
			if f.Kind == kindModelRef {
				return true
			}
		}
	}
	return false
}
