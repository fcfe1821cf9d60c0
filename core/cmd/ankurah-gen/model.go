package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

const (
	corePath     = "github.com/ankurah/ankurah-go/core"
	idPath       = corePath + "/id"
	valuePath    = corePath + "/value"
	propertyPath = corePath + "/property"
	markerLine   = "//ankurah:model"
)

// errModel is wrapped by every problem found in a model declaration.
var errModel = errors.New("ankurah-gen")

// kind is how a field is stored.
type kind int

const (
	kindString   kind = iota // LWW string
	kindBool                 // LWW bool
	kindInt                  // LWW int (signed Go integers)
	kindUint                 // LWW int (unsigned Go integers; above MaxInt64 is an error on Set)
	kindFloat                // LWW float
	kindBytes                // LWW bytes ([]byte and named byte slices)
	kindRef                  // LWW entity reference (id.EntityID)
	kindRawJSON              // LWW json (json.RawMessage, kept as written)
	kindValue                // LWW, any value (value.Value)
	kindJSON                 // LWW json (maps, slices, arrays, structs through encoding/json)
	kindPlugin               // a plugin datatype (implements property.Typed)
	kindModelRef             // LWW entity reference typed by its model (core.Ref[T])
)

// model is one struct the generator writes code for.
type model struct {
	Name       string // Go type name: Album
	Collection string // collection name: album
	Plural     string // name of the collection value: Albums
	Fields     []*field

	obj *types.TypeName
}

// field is one stored field of a model.
type field struct {
	GoName   string
	Prop     string
	Index    bool
	Kind     kind
	Type     types.Type // the field's declared type
	Elem     types.Type // Type, or the pointee when Nullable
	Nullable bool       // a pointer: nil is NULL

	// For plugin fields: the type whose AnkurahMut/AnkurahView methods make
	// the handles, and the handle types they return.
	Plugin   types.Type
	MutType  types.Type
	ViewType types.Type

	// For core.Ref[T] fields: the model T names (set once every model of
	// the package is known).
	RefType   *types.Named
	RefTarget *model
}

// lww reports whether the field is stored by the built-in LWW backend.
func (f *field) lww() bool { return f.Kind != kindPlugin }

// Methods the generated View and Mut declare, which a field getter must not shadow.
var reservedMethods = []string{"ID", "Entity", "Model", "Delete"}

// findModels returns the models of pkg: the structs named in names, or all
// structs marked //ankurah:model when names is empty. skip names a file
// (the generator's own output) whose declarations are ignored.
func findModels(pkg *packages.Package, names []string, skip string) ([]*model, error) {
	var named []*types.TypeName
	if len(names) > 0 {
		for _, n := range names {
			obj := pkg.Types.Scope().Lookup(n)
			tn, ok := obj.(*types.TypeName)
			if !ok {
				return nil, fmt.Errorf("%w: -type %s: no such type in package %s", errModel, n, pkg.PkgPath)
			}
			named = append(named, tn)
		}
	} else {
		for i, f := range pkg.Syntax {
			if i < len(pkg.CompiledGoFiles) && sameFile(pkg.CompiledGoFiles[i], skip) {
				continue
			}
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					continue
				}
				for _, s := range gd.Specs {
					ts := s.(*ast.TypeSpec)
					if !marked(ts.Doc) && !(len(gd.Specs) == 1 && marked(gd.Doc)) {
						continue
					}
					if tn, ok := pkg.TypesInfo.Defs[ts.Name].(*types.TypeName); ok {
						named = append(named, tn)
					}
				}
			}
		}
		if len(named) == 0 {
			return nil, fmt.Errorf("%w: no models in package %s: mark a struct with a %s comment or pass -type", errModel, pkg.PkgPath, markerLine)
		}
	}
	var models []*model
	for _, tn := range named {
		m, err := buildModel(pkg.Fset, tn)
		if err != nil {
			return nil, err
		}
		models = append(models, m)
	}
	if err := linkRefs(pkg.Fset, models); err != nil {
		return nil, err
	}
	if err := checkCollisions(pkg, models); err != nil {
		return nil, err
	}
	return models, nil
}

func marked(cg *ast.CommentGroup) bool {
	if cg == nil {
		return false
	}
	for _, c := range cg.List {
		if strings.TrimSpace(c.Text) == markerLine {
			return true
		}
	}
	return false
}

// buildModel reads a struct's fields and tags.
func buildModel(fset *token.FileSet, tn *types.TypeName) (*model, error) {
	name, at := tn.Name(), fset.Position(tn.Pos())
	named, ok := tn.Type().(*types.Named)
	if !ok || tn.IsAlias() {
		return nil, fmt.Errorf("%w: %s: %s is not a defined struct type", errModel, at, name)
	}
	if named.TypeParams().Len() > 0 {
		return nil, fmt.Errorf("%w: %s: model %s: generic structs are not supported", errModel, at, name)
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return nil, fmt.Errorf("%w: %s: model %s: not a struct (its type is %s)", errModel, at, name, named.Underlying())
	}
	m := &model{Name: tn.Name(), Collection: snakeCase(tn.Name()), Plural: plural(tn.Name()), obj: tn}
	props := map[string]string{}
	for i := 0; i < st.NumFields(); i++ {
		v := st.Field(i)
		at := fset.Position(v.Pos())
		tag, hasTag := reflect.StructTag(st.Tag(i)).Lookup("ankurah")
		if tag == "-" {
			continue
		}
		if v.Embedded() {
			return nil, fmt.Errorf("%w: %s: model %s: embedded field %s is not supported (name the field, or tag it `ankurah:\"-\"`)", errModel, at, name, v.Name())
		}
		if !v.Exported() {
			if hasTag {
				return nil, fmt.Errorf("%w: %s: model %s: field %s is unexported but tagged; only exported fields are stored", errModel, at, name, v.Name())
			}
			continue
		}
		f := &field{GoName: v.Name(), Prop: snakeCase(v.Name()), Type: v.Type(), Elem: v.Type()}
		if hasTag {
			parts := strings.Split(tag, ",")
			if parts[0] != "" {
				f.Prop = parts[0]
			}
			for _, opt := range parts[1:] {
				switch opt {
				case "index":
					f.Index = true
				default:
					return nil, fmt.Errorf("%w: %s: model %s: field %s: unknown tag option %q in `ankurah:%q` (known: index)", errModel, at, name, v.Name(), opt, tag)
				}
			}
		}
		if strings.HasPrefix(f.Prop, "_") || strings.ContainsRune(f.Prop, 0) {
			return nil, fmt.Errorf("%w: %s: model %s: field %s: property name %q is reserved or invalid (names beginning with _ belong to the framework)", errModel, at, name, v.Name(), f.Prop)
		}
		if prev, dup := props[f.Prop]; dup {
			return nil, fmt.Errorf("%w: %s: model %s: fields %s and %s both store property %q", errModel, at, name, prev, v.Name(), f.Prop)
		}
		props[f.Prop] = v.Name()
		if slices.Contains(reservedMethods, f.GoName) {
			return nil, fmt.Errorf("%w: %s: model %s: field %s: the generated types declare a method %s; rename the Go field (a tag `ankurah:%q` keeps the property name)", errModel, at, name, v.Name(), f.GoName, f.Prop)
		}
		if err := classifyField(f); err != nil {
			return nil, fmt.Errorf("%w: %s: model %s: field %s: type %s: %s", errModel, at, name, v.Name(), types.TypeString(v.Type(), qualifyByName), err.Error())
		}
		m.Fields = append(m.Fields, f)
	}
	return m, nil
}

// qualifyByPath writes package-qualified names in comments.
func qualifyByPath(p *types.Package) string { return p.Path() }

// qualifyByName writes types in error messages as their source spells them.
func qualifyByName(p *types.Package) string { return p.Name() }

// classifyField decides how a field is stored.
func classifyField(f *field) error {
	t := types.Unalias(f.Type)
	if ok, err := plugin(f, t); ok || err != nil {
		return err
	}
	if target, ok := modelRef(t); ok {
		f.Kind, f.RefType = kindModelRef, target
		return nil
	}
	if p, ok := t.(*types.Pointer); ok {
		f.Nullable = true
		f.Elem = p.Elem()
		if ok, _ := plugin(f, p.Elem()); ok {
			return errors.New("a pointer to a plugin datatype; use the datatype itself")
		}
		if _, ok := p.Elem().Underlying().(*types.Pointer); ok {
			return errors.New("a pointer to a pointer is not supported")
		}
		if _, ok := modelRef(p.Elem()); ok {
			return errors.New("a pointer to core.Ref; use core.Ref itself, whose zero value is NULL")
		}
		if isNamed(p.Elem(), valuePath, "Value") {
			return errors.New("a pointer to value.Value; use value.Value, whose NULL is its zero value")
		}
	}
	k, err := scalarKind(f.Elem)
	if err != nil {
		return err
	}
	f.Kind = k
	return nil
}

// plugin recognizes a plugin datatype: a type whose pointer's method set has
// AnkurahBackend() string, AnkurahMut(property.Handle) M and
// AnkurahView(property.Handle) V.
func plugin(f *field, t types.Type) (bool, error) {
	if _, isPtr := t.(*types.Pointer); isPtr {
		return false, nil
	}
	ms := types.NewMethodSet(types.NewPointer(t))
	sel := ms.Lookup(nil, "AnkurahBackend")
	if sel == nil {
		return false, nil
	}
	sig := sel.Obj().Type().(*types.Signature)
	if sig.Params().Len() != 0 || sig.Results().Len() != 1 || !types.Identical(sig.Results().At(0).Type(), types.Typ[types.String]) {
		return true, fmt.Errorf("method AnkurahBackend must be func() string to implement property.Typed, is %s", sig)
	}
	handle := func(name string) (types.Type, error) {
		sel := ms.Lookup(nil, name)
		if sel == nil {
			return nil, fmt.Errorf("implements property.Typed but has no method %s(property.Handle) (a plugin datatype names its handle types with AnkurahMut and AnkurahView)", name)
		}
		sig := sel.Obj().Type().(*types.Signature)
		if sig.Params().Len() != 1 || !isNamed(sig.Params().At(0).Type(), propertyPath, "Handle") || sig.Results().Len() != 1 || sig.Variadic() {
			return nil, fmt.Errorf("method %s must be func(property.Handle) T, is %s", name, sig)
		}
		return sig.Results().At(0).Type(), nil
	}
	var err error
	if f.MutType, err = handle("AnkurahMut"); err != nil {
		return true, err
	}
	if f.ViewType, err = handle("AnkurahView"); err != nil {
		return true, err
	}
	f.Kind, f.Plugin = kindPlugin, t
	return true, nil
}

// scalarKind classifies a non-pointer LWW field type.
func scalarKind(t types.Type) (kind, error) {
	switch {
	case isNamed(t, idPath, "EntityID"):
		return kindRef, nil
	case isNamed(t, valuePath, "Value"):
		return kindValue, nil
	case isNamed(t, "encoding/json", "RawMessage"):
		return kindRawJSON, nil
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsString != 0:
			return kindString, nil
		case u.Kind() == types.Bool:
			return kindBool, nil
		case u.Kind() == types.Uintptr:
			return 0, errors.New("uintptr is not a storable value")
		case u.Info()&types.IsUnsigned != 0:
			return kindUint, nil
		case u.Info()&types.IsInteger != 0:
			return kindInt, nil
		case u.Info()&types.IsFloat != 0:
			return kindFloat, nil
		}
		return 0, fmt.Errorf("%s values cannot be stored (supported: string, bool, integers, floats, []byte, id.EntityID, value.Value, json.RawMessage, maps, slices, arrays, structs, pointers to these, plugin datatypes)", u)
	case *types.Slice:
		if b, ok := u.Elem().Underlying().(*types.Basic); ok && b.Kind() == types.Byte {
			return kindBytes, nil
		}
		return kindJSON, jsonable(u, nil)
	case *types.Map, *types.Array, *types.Struct:
		return kindJSON, jsonable(u, nil)
	case *types.Interface:
		return 0, errors.New("an interface cannot be decoded into; use value.Value for a dynamically typed property")
	case *types.Pointer:
		return 0, errors.New("a pointer is not supported here")
	}
	return 0, fmt.Errorf("%s values cannot be stored", t.Underlying())
}

// jsonable checks that encoding/json can round-trip a type stored as json.
func jsonable(t types.Type, seen []types.Type) error {
	for _, s := range seen {
		if types.Identical(s, t) {
			return nil
		}
	}
	seen = append(seen, t)
	if implements(t, "MarshalJSON") || implements(t, "MarshalText") {
		return nil
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if u.Info()&(types.IsComplex) != 0 || u.Kind() == types.UnsafePointer {
			return fmt.Errorf("contains %s, which encoding/json cannot store", u)
		}
	case *types.Chan, *types.Signature:
		return fmt.Errorf("contains %s, which encoding/json cannot store", u)
	case *types.Pointer:
		return jsonable(u.Elem(), seen)
	case *types.Slice:
		return jsonable(u.Elem(), seen)
	case *types.Array:
		return jsonable(u.Elem(), seen)
	case *types.Map:
		k := u.Key()
		if b, ok := k.Underlying().(*types.Basic); !(ok && b.Info()&(types.IsString|types.IsInteger) != 0) && !implements(k, "MarshalText") {
			return fmt.Errorf("map key %s is not a string, an integer or a TextMarshaler, so encoding/json cannot store it", types.TypeString(k, qualifyByName))
		}
		return jsonable(u.Elem(), seen)
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if f := u.Field(i); f.Exported() || f.Embedded() {
				if reflect.StructTag(u.Tag(i)).Get("json") == "-" {
					continue
				}
				if err := jsonable(f.Type(), seen); err != nil {
					return fmt.Errorf("field %s: %w", f.Name(), err)
				}
			}
		}
	}
	return nil
}

// implements reports whether t or *t has a method of that name.
func implements(t types.Type, method string) bool {
	if _, ok := t.(*types.Pointer); !ok {
		t = types.NewPointer(t)
	}
	return types.NewMethodSet(t).Lookup(nil, method) != nil
}

// isNamed reports whether t is the defined type path.name.
func isNamed(t types.Type, path, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	o := n.Obj()
	return o.Pkg() != nil && o.Pkg().Path() == path && o.Name() == name
}

// generatedNames are the package-level names the generator declares for a model.
func generatedNames(m *model) []string {
	names := []string{m.Name + "View", m.Name + "Mut", m.Name + "Field", m.Name + "Collection", m.Plural,
		m.Name + "LiveQuery", m.Name + "Change", m.Name + "ChangeSet", lowerFirst(m.Name) + "Views"}
	for _, f := range m.Fields {
		if f.lww() {
			names = append(names, "decode"+m.Name+f.GoName, "encode"+m.Name+f.GoName)
		}
	}
	return names
}

// checkCollisions refuses models whose generated names are already declared
// in the package (outside the generator's output) or by another model.
func checkCollisions(pkg *packages.Package, models []*model) error {
	owner := map[string]string{}
	for _, m := range models {
		for _, n := range generatedNames(m) {
			if o, dup := owner[n]; dup {
				return fmt.Errorf("%w: models %s and %s would both declare %s", errModel, o, m.Name, n)
			}
			owner[n] = m.Name
			if obj := pkg.Types.Scope().Lookup(n); obj != nil {
				where := pkg.Fset.Position(obj.Pos())
				hint := ""
				if generatedFile(pkg, where.Filename) {
					hint = "; that file is an earlier ankurah-gen output: delete it, or pass its name to -out"
				}
				return fmt.Errorf("%w: model %s: the generated code declares %s, which the package already declares at %s%s", errModel, m.Name, n, where, hint)
			}
		}
	}
	return nil
}

// generatedFile reports whether the package's file at path is marked as
// generated code.
func generatedFile(pkg *packages.Package, path string) bool {
	for i, f := range pkg.Syntax {
		if i < len(pkg.CompiledGoFiles) && sameFile(pkg.CompiledGoFiles[i], path) {
			return ast.IsGenerated(f)
		}
	}
	return false
}

// modelRef recognizes core.Ref[T] and returns T.
func modelRef(t types.Type) (*types.Named, bool) {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.TypeArgs().Len() != 1 {
		return nil, false
	}
	o := n.Origin().Obj()
	if o.Pkg() == nil || o.Pkg().Path() != corePath || o.Name() != "Ref" {
		return nil, false
	}
	target, ok := types.Unalias(n.TypeArgs().At(0)).(*types.Named)
	return target, ok
}

// linkRefs points every core.Ref[T] field at the model T, which must be
// one of the models generated together with it.
func linkRefs(fset *token.FileSet, models []*model) error {
	for _, m := range models {
		for _, f := range m.Fields {
			if f.Kind != kindModelRef {
				continue
			}
			for _, t := range models {
				if t.obj == f.RefType.Obj() {
					f.RefTarget = t
				}
			}
			if f.RefTarget == nil {
				return fmt.Errorf("%w: %s: model %s: field %s: core.Ref[%s] refers to a type that is not a model generated with it (mark %s with %s in this package)",
					errModel, fset.Position(m.obj.Pos()), m.Name, f.GoName, f.RefType.Obj().Name(), f.RefType.Obj().Name(), markerLine)
			}
		}
	}
	return nil
}
