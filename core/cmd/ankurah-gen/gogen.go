package main

import (
	"bytes"
	"fmt"
	"go/format"
	"go/types"
	"sort"
	"strconv"
	"strings"
)

// imports names the packages the generated file uses, avoiding clashes with
// each other and with the model package's own declarations.
type imports struct {
	self   *types.Package
	byPath map[string]string
	taken  map[string]bool
}

func newImports(self *types.Package) *imports {
	return &imports{self: self, byPath: map[string]string{}, taken: map[string]bool{}}
}

// use returns the name the generated file refers to package path by.
func (im *imports) use(path, name string) string {
	if n, ok := im.byPath[path]; ok {
		return n
	}
	n := name
	for i := 2; im.taken[n] || im.self.Scope().Lookup(n) != nil; i++ {
		n = name + strconv.Itoa(i)
	}
	im.byPath[path] = n
	im.taken[n] = true
	return n
}

// typ writes t as the generated file refers to it.
func (im *imports) typ(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == im.self {
			return ""
		}
		return im.use(p.Path(), p.Name())
	})
}

func (im *imports) write(b *bytes.Buffer) {
	if len(im.byPath) == 0 {
		return
	}
	paths := make([]string, 0, len(im.byPath))
	for p := range im.byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	b.WriteString("import (\n")
	for _, std := range []bool{true, false} {
		for _, p := range paths {
			if isStd(p) != std {
				continue
			}
			n := im.byPath[p]
			if n == p[strings.LastIndex(p, "/")+1:] {
				fmt.Fprintf(b, "\t%q\n", p)
			} else {
				fmt.Fprintf(b, "\t%s %q\n", n, p)
			}
		}
		if std {
			b.WriteString("\n")
		}
	}
	b.WriteString(")\n\n")
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

// gen writes the Go code of a set of models.
type gen struct {
	b  bytes.Buffer
	im *imports
	// package names as the generated file refers to them
	context, core, id, value, storage, signal, json string
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.b, format+"\n", args...) }

// renderGo returns the formatted Go source for models of package pkg.
func renderGo(pkg *types.Package, models []*model) ([]byte, error) {
	g := &gen{im: newImports(pkg)}
	g.context = g.im.use("context", "context")
	g.core = g.im.use(corePath, "core")
	g.id = g.im.use(idPath, "id")
	g.value = g.im.use(valuePath, "value")
	g.storage = g.im.use(corePath+"/storage", "storage")
	g.signal = g.im.use(corePath+"/signal", "signal")
	for _, m := range models {
		for _, f := range m.Fields {
			if f.Kind == kindJSON {
				g.json = g.im.use("encoding/json", "json")
			}
		}
	}
	for _, m := range models {
		g.model(m)
	}
	var out bytes.Buffer
	out.Write(header("//"))
	fmt.Fprintf(&out, "\npackage %s\n\n", pkg.Name())
	g.im.write(&out)
	out.Write(g.b.Bytes())
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: formatting the generated code (a generator bug): %w\n%s", errModel, err, out.Bytes())
	}
	return src, nil
}

func (g *gen) model(m *model) {
	n, coll := m.Name, strconv.Quote(m.Collection)
	view, mut, cname, lq := n+"View", n+"Mut", n+"Collection", n+"LiveQuery"
	views := lowerFirst(n) + "Views"
	article := "a"
	if strings.ContainsRune("AEIOU", rune(n[0])) {
		article = "an"
	}
	var lww, plugins []*field
	var indexed, refs []*field
	for _, f := range m.Fields {
		if f.Kind == kindModelRef {
			refs = append(refs, f)
		}
		if f.lww() {
			lww = append(lww, f)
		} else {
			plugins = append(plugins, f)
		}
		if f.Index {
			indexed = append(indexed, f)
		}
	}
	c, co, st := g.context, g.core, g.storage

	// The collection value.
	g.p("// %s is the typed access to the %s collection, which holds %s records.", cname, coll, n)
	g.p("// Use the value %s.", m.Plural)
	g.p("type %s struct{}", cname)
	g.p("")
	g.p("// %s is the %s collection.", m.Plural, coll)
	g.p("var %s %s", m.Plural, cname)
	g.p("")
	g.p("// Name returns the collection's name, %s.", coll)
	g.p("func (%s) Name() string { return %s }", cname, coll)
	g.p("")
	g.p("// Indexes returns the secondary indexes %s declares.", n)
	g.p("func (%s) Indexes() []%s.Index {", cname, st)
	if len(indexed) == 0 {
		g.p("return nil")
	} else {
		g.p("return []%s.Index{", st)
		for _, f := range indexed {
			g.p("{Collection: %s, Property: %q},", coll, f.Prop)
		}
		g.p("}")
	}
	g.p("}")
	g.p("")
	g.p("// DeclareIndexes declares the collection's indexes on engine if it maintains")
	g.p("// declared indexes (implements storage.Indexer); other engines need nothing.")
	g.p("func (c %s) DeclareIndexes(ctx %s.Context, engine %s.Engine) error {", cname, c, st)
	g.p("ix, ok := engine.(%s.Indexer)", st)
	g.p("if !ok {\nreturn nil\n}")
	g.p("for _, i := range c.Indexes() {")
	g.p("if err := ix.DeclareIndex(ctx, i); err != nil {\nreturn err\n}")
	g.p("}")
	g.p("return nil")
	g.p("}")
	g.p("")
	if len(refs) > 0 {
		g.p("// Relations returns the references %s declares: each core.Ref field names", n)
		g.p("// the collection of the model it refers to.")
		g.p("func (%s) Relations() []%s.Relation {", cname, co)
		g.p("return []%s.Relation{", co)
		for _, f := range refs {
			g.p("{Collection: %s, Property: %q, Target: %q},", coll, f.Prop, f.RefTarget.Collection)
		}
		g.p("}")
		g.p("}")
		g.p("")
		g.p("// DeclareRelations declares the collection's references on node, so that")
		g.p("// AnkQL paths through them continue in the referenced collection.")
		g.p("func (c %s) DeclareRelations(node *%s.Node) error { return node.DeclareRelations(c.Relations()...) }", cname, co)
		g.p("")
	}
	g.p("// Create starts a new %s in trx with the stored fields of a.", n)
	if len(plugins) > 0 {
		g.p("// Plugin datatype fields (%s) start empty: edit them through the returned %s.", fieldNames(plugins), mut)
	}
	g.p("// Its ID is known once trx commits.")
	g.p("func (%s) Create(ctx %s.Context, trx *%s.Transaction, a %s) (*%s, error) {", cname, c, co, n, mut)
	g.p("m, err := trx.Create(ctx, %s)", coll)
	g.p("if err != nil {\nreturn nil, err\n}")
	for _, f := range lww {
		g.p("if err := m.Set(%q, encode%s%s(a.%s)); err != nil {\nreturn nil, err\n}", f.Prop, n, f.GoName, f.GoName)
	}
	g.p("return &%s{m: m}, nil", mut)
	g.p("}")
	g.p("")
	g.p("// Edit returns the %s with id eid for editing in trx.", n)
	g.p("func (%s) Edit(ctx %s.Context, trx *%s.Transaction, eid %s.EntityID) (*%s, error) {", cname, c, co, g.id, mut)
	g.p("m, err := trx.Edit(ctx, %s, eid)", coll)
	g.p("if err != nil {\nreturn nil, err\n}")
	g.p("return &%s{m: m}, nil", mut)
	g.p("}")
	g.p("")
	g.p("// Delete marks the %s with id eid deleted when trx commits.", n)
	g.p("func (%s) Delete(ctx %s.Context, trx *%s.Transaction, eid %s.EntityID) error {", cname, c, co, g.id)
	g.p("return trx.Delete(ctx, %s, eid)", coll)
	g.p("}")
	g.p("")
	g.p("// Restore undoes the deletion of the %s with id eid when trx commits (its", n)
	g.p("// id, values and history kept) and returns it for editing in trx.")
	g.p("func (%s) Restore(ctx %s.Context, trx *%s.Transaction, eid %s.EntityID) (*%s, error) {", cname, c, co, g.id, mut)
	g.p("m, err := trx.Restore(ctx, %s, eid)", coll)
	g.p("if err != nil {\nreturn nil, err\n}")
	g.p("return &%s{m: m}, nil", mut)
	g.p("}")
	g.p("")
	g.p("// Get reads the %s with id eid: storage.ErrNotFound when it does not exist,", n)
	g.p("// is deleted, or may not be read.")
	g.p("func (%s) Get(ctx %s.Context, c *%s.Context, eid %s.EntityID) (*%s, error) {", cname, c, co, g.id, view)
	g.p("v, err := c.Get(ctx, %s, eid)", coll)
	g.p("if err != nil {\nreturn nil, err\n}")
	g.p("return &%s{v: v}, nil", view)
	g.p("}")
	g.p("")
	g.p("// Fetch reads the %s records matching an AnkQL query once, binding ?", n)
	g.p("// placeholders to args in order.")
	g.p("func (%s) Fetch(ctx %s.Context, c *%s.Context, query string, args ...any) ([]*%s, error) {", cname, c, co, view)
	g.p("vs, err := c.Fetch(ctx, %s, query, args...)", coll)
	g.p("if err != nil {\nreturn nil, err\n}")
	g.p("return %s(vs), nil", views)
	g.p("}")
	g.p("")
	g.p("// FetchIncluding is Fetch with includes (core.Include, core.IncludeReverse")
	g.p("// after the arguments): the records, and the related entities the caller")
	g.p("// may read.")
	g.p("func (%s) FetchIncluding(ctx %s.Context, c *%s.Context, query string, args ...any) (*%sResult, error) {", cname, c, co, n)
	g.p("r, err := c.FetchIncluding(ctx, %s, query, args...)", coll)
	g.p("if err != nil {\nreturn nil, err\n}")
	g.p("return &%sResult{Items: %s(r.Items), Included: r.Included}, nil", n, views)
	g.p("}")
	g.p("")
	g.p("// %sResult is what FetchIncluding returns: the %s records and, by include", n, n)
	g.p("// name, the related entities (each include's sorted by id).")
	g.p("type %sResult struct {", n)
	g.p("Items []*%s", view)
	g.p("Included map[string][]*%s.View", co)
	g.p("}")
	g.p("")
	for _, f := range refs {
		g.includedAccessor(f, "r *"+n+"Result", "r.Included[%q]")
	}
	g.p("// Query returns a live query over the %s records matching an AnkQL query,", n)
	g.p("// binding ? placeholders to args in order. Close it when done.")
	g.p("func (%s) Query(ctx %s.Context, c *%s.Context, query string, args ...any) (*%s, error) {", cname, c, co, lq)
	g.p("q, err := c.Query(ctx, %s, query, args...)", coll)
	g.p("if err != nil {\nreturn nil, err\n}")
	g.p("return &%s{q: q}, nil", lq)
	g.p("}")
	g.p("")

	// The view.
	g.p("// %s is a read-only snapshot of %s %s.", view, article, n)
	g.p("type %s struct{ v *%s.View }", view, co)
	g.p("")
	g.p("// ID returns the entity's id.")
	g.p("func (v *%s) ID() %s.EntityID { return v.v.ID() }", view, g.id)
	g.p("")
	g.p("// Entity returns the untyped view.")
	g.p("func (v *%s) Entity() *%s.View { return v.v }", view, co)
	g.p("")
	for _, f := range m.Fields {
		if f.Kind == kindModelRef {
			t := f.RefTarget
			g.p("// %s returns the %q reference: its id, and Get to read the %s it names.", f.GoName, f.Prop, t.Name)
			g.p("func (v *%s) %s() %s.RefView[%s, *%sView] {", view, f.GoName, co, t.Name, t.Name)
			g.p("return %s.NewRefView(decode%s%s(v.v.Get(%q)), %q, func(x *%s.View) *%sView { return &%sView{v: x} })", co, n, f.GoName, f.Prop, t.Collection, co, t.Name, t.Name)
			g.p("}")
		} else if f.lww() {
			g.p("// %s returns the %q property (%s).", f.GoName, f.Prop, absent(f))
			g.p("func (v *%s) %s() %s { return decode%s%s(v.v.Get(%q)) }", view, f.GoName, g.im.typ(f.Type), n, f.GoName, f.Prop)
		} else {
			g.p("// %s returns a read-only handle on the %q property (a plugin datatype).", f.GoName, f.Prop)
			g.p("func (v *%s) %s() %s { return new(%s).AnkurahView(v.v.Handle(%q)) }", view, f.GoName, g.im.typ(f.ViewType), g.im.typ(f.Plugin), f.Prop)
		}
		g.p("")
	}
	g.p("// Model returns the snapshot's stored fields as %s %s.", article, n)
	if len(plugins) > 0 {
		g.p("// Plugin datatype fields are left zero: read them through their handles.")
	}
	g.p("func (v *%s) Model() %s {", view, n)
	g.p("return %s{", n)
	for _, f := range lww {
		if f.Kind == kindModelRef {
			g.p("%s: decode%s%s(v.v.Get(%q)),", f.GoName, n, f.GoName, f.Prop)
			continue
		}
		g.p("%s: v.%s(),", f.GoName, f.GoName)
	}
	g.p("}")
	g.p("}")
	g.p("")

	// The mut.
	g.p("// %s is %s %s being edited in a transaction.", mut, article, n)
	g.p("type %s struct{ m *%s.Mut }", mut, co)
	g.p("")
	g.p("// ID returns the entity's id (zero for a creation until its transaction commits).")
	g.p("func (m *%s) ID() %s.EntityID { return m.m.ID() }", mut, g.id)
	g.p("")
	g.p("// Entity returns the untyped entity.")
	g.p("func (m *%s) Entity() *%s.Mut { return m.m }", mut, co)
	g.p("")
	g.p("// Delete marks the entity deleted when the transaction commits.")
	g.p("func (m *%s) Delete() error { return m.m.Delete() }", mut)
	g.p("")
	for _, f := range m.Fields {
		ft := g.im.typ(f.Type)
		if f.lww() {
			g.p("// %s returns the handle of the %q property.", f.GoName, f.Prop)
			g.p("func (m *%s) %s() %sField[%s] {", mut, f.GoName, n, ft)
			g.p("return %sField[%s]{m: m.m, prop: %q, enc: encode%s%s, dec: decode%s%s}", n, ft, f.Prop, n, f.GoName, n, f.GoName)
			g.p("}")
		} else {
			g.p("// %s returns the handle of the %q property (a plugin datatype).", f.GoName, f.Prop)
			g.p("func (m *%s) %s() %s { return new(%s).AnkurahMut(m.m.Handle(%q)) }", mut, f.GoName, g.im.typ(f.MutType), g.im.typ(f.Plugin), f.Prop)
		}
		g.p("")
	}

	// The field handle.
	if len(lww) > 0 {
		g.p("// %sField is a typed handle on one property of %s %s.", n, article, mut)
		g.p("type %sField[T any] struct {", n)
		g.p("m *%s.Mut", co)
		g.p("prop string")
		g.p("enc func(T) any")
		g.p("dec func(%s.Value) T", g.value)
		g.p("}")
		g.p("")
		g.p("// Get returns the property as the transaction sees it (the zero value when it is")
		g.p("// unset or holds a value of another type).")
		g.p("func (f %sField[T]) Get() T { return f.dec(f.m.Get(f.prop)) }", n)
		g.p("")
		g.p("// Set sets the property; it is written when the transaction commits.")
		g.p("func (f %sField[T]) Set(v T) error { return f.m.Set(f.prop, f.enc(v)) }", n)
		g.p("")
		g.p("// Property returns the property's name.")
		g.p("func (f %sField[T]) Property() string { return f.prop }", n)
		g.p("")
	}

	// Live queries.
	g.p("// %sChange is one %s's change in %s %sChangeSet.", n, n, article, n)
	g.p("type %sChange struct {", n)
	g.p("Kind %s.ChangeKind", co)
	g.p("Entity *%s", view)
	g.p("}")
	g.p("")
	g.p("// %sChangeSet is what %s %s reports for one commit: the changes and the", n, article, lq)
	g.p("// result set after them.")
	g.p("type %sChangeSet struct {", n)
	g.p("Changes []%sChange", n)
	g.p("Items []*%s", view)
	g.p("// IncludeChanges and Included are the live query's includes, as in core.ChangeSet.")
	g.p("IncludeChanges []%s.IncludeChange", co)
	g.p("Included map[string][]*%s.View", co)
	g.p("}")
	g.p("")
	for _, f := range refs {
		g.includedAccessor(f, "cs "+n+"ChangeSet", "cs.Included[%q]")
	}
	g.p("// %s is a live query over %s records.", lq, n)
	g.p("type %s struct{ q *%s.LiveQuery }", lq, co)
	g.p("")
	g.p("// Items returns the current result set, in the query's order.")
	g.p("func (q *%s) Items() []*%s { return %s(q.q.Items()) }", lq, view, views)
	g.p("")
	for _, f := range refs {
		g.includedAccessor(f, "q *"+lq, "q.q.Included(%q)")
	}
	g.p("// Signal returns the result set as a signal.")
	g.p("func (q *%s) Signal() %s.Signal[[]*%s] { return %s.Map(q.q.Signal(), %s) }", lq, g.signal, view, g.signal, views)
	g.p("")
	g.p("// Subscribe calls f with the current result set (all Initial), then once per")
	g.p("// commit that changes it, until the returned function is called.")
	g.p("func (q *%s) Subscribe(f func(%sChangeSet)) (unsubscribe func()) {", lq, n)
	g.p("return q.q.Subscribe(func(cs %s.ChangeSet) {", co)
	g.p("out := %sChangeSet{Changes: make([]%sChange, len(cs.Changes)), Items: %s(cs.Items), IncludeChanges: cs.IncludeChanges, Included: cs.Included}", n, n, views)
	g.p("for i, c := range cs.Changes {\nout.Changes[i] = %sChange{Kind: c.Kind, Entity: &%s{v: c.Entity}}\n}", n, view)
	g.p("f(out)")
	g.p("})")
	g.p("}")
	g.p("")
	g.p("// UpdateSelection re-points the live query at a new AnkQL query.")
	g.p("func (q *%s) UpdateSelection(ctx %s.Context, query string, args ...any) error {", lq, c)
	g.p("return q.q.UpdateSelection(ctx, query, args...)")
	g.p("}")
	g.p("")
	g.p("// Close stops the live query.")
	g.p("func (q *%s) Close() { q.q.Close() }", lq)
	g.p("")
	g.p("// LiveQuery returns the untyped live query.")
	g.p("func (q *%s) LiveQuery() *%s.LiveQuery { return q.q }", lq, co)
	g.p("")
	g.p("func %s(vs []*%s.View) []*%s {", views, co, view)
	g.p("out := make([]*%s, len(vs))", view)
	g.p("for i, v := range vs {\nout[i] = &%s{v: v}\n}", view)
	g.p("return out")
	g.p("}")
	g.p("")

	for _, f := range lww {
		g.codec(m, f)
	}
}

// includedAccessor writes Included<Field>() on recv, the entities of the
// forward include of a core.Ref field (core.Include(prop)) typed as the
// model it refers to; from is how recv holds an include's views by name.
func (g *gen) includedAccessor(f *field, recv, from string) {
	t := f.RefTarget
	g.p("// Included%s returns the %s records of the include core.Include(%q) (nil", f.GoName, t.Name, f.Prop)
	g.p("// without it).")
	g.p("func (%s) Included%s() []*%sView { return %s(%s) }", recv, f.GoName, t.Name, lowerFirst(t.Name)+"Views", fmt.Sprintf(from, f.Prop))
	g.p("")
}

// absent documents what a getter returns for NULL.
func absent(f *field) string {
	switch {
	case f.Nullable:
		return "nil when unset or of another type"
	case f.Kind == kindValue:
		return "NULL when unset"
	}
	return "the zero value when unset or of another type"
}

func fieldNames(fs []*field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.GoName
	}
	return strings.Join(names, ", ")
}

// scalar describes how a kind reads from a value.Value and which Go type it
// is read as.
var scalar = map[kind]struct{ as, base string }{
	kindString:  {"AsString", "string"},
	kindBool:    {"AsBool", "bool"},
	kindInt:     {"AsInt", "int64"},
	kindUint:    {"AsInt", "int64"},
	kindFloat:   {"AsFloat", "float64"},
	kindBytes:   {"AsBytes", "[]byte"},
	kindRef:     {"AsRef", ""},
	kindRawJSON: {"AsJSON", ""},
}

// encodeBase is the Go type a kind is converted to before value.From, so
// named types take value.From's fast paths (and named byte slices stay bytes).
var encodeBase = map[kind]string{
	kindString: "string", kindBool: "bool", kindInt: "int64", kindUint: "uint64",
	kindFloat: "float64", kindBytes: "[]byte",
}

// codec writes a field's decode and encode functions.
func (g *gen) codec(m *model, f *field) {
	ft, et := g.im.typ(f.Type), g.im.typ(f.Elem)
	dec, enc := "decode"+m.Name+f.GoName, "encode"+m.Name+f.GoName
	conv := func(expr string) string {
		if s := scalar[f.Kind]; f.Kind == kindRef || s.base == et {
			return expr
		}
		return et + "(" + expr + ")"
	}
	g.p("func %s(x %s.Value) %s {", dec, g.value, ft)
	switch {
	case f.Kind == kindModelRef:
		g.p("return %s.RefFromValue[%s](x)", g.core, g.im.typ(f.RefType))
	case f.Kind == kindValue:
		g.p("return x")
	case f.Kind == kindJSON && f.Nullable:
		g.p("j, ok := x.AsJSON()")
		g.p("if !ok {\nreturn nil\n}")
		g.p("out := new(%s)", et)
		g.p("if %s.Unmarshal(j, out) != nil {\nreturn nil\n}", g.json)
		g.p("return out")
	case f.Kind == kindJSON:
		g.p("var out %s", et)
		g.p("if j, ok := x.AsJSON(); ok && %s.Unmarshal(j, &out) != nil {", g.json)
		g.p("var zero %s", et)
		g.p("return zero")
		g.p("}")
		g.p("return out")
	case f.Nullable:
		g.p("x0, ok := x.%s()", scalar[f.Kind].as)
		g.p("if !ok {\nreturn nil\n}")
		g.p("out := %s", conv("x0"))
		g.p("return &out")
	case f.Kind == kindBytes: // empty bytes read as nil, so nil round-trips
		g.p("x0, _ := x.AsBytes()")
		g.p("if len(x0) == 0 {\nreturn nil\n}")
		g.p("return %s", conv("x0"))
	default:
		g.p("x0, _ := x.%s()", scalar[f.Kind].as)
		g.p("return %s", conv("x0"))
	}
	g.p("}")
	g.p("")
	encConv := func(expr string) string {
		if b, ok := encodeBase[f.Kind]; ok && b != et {
			return b + "(" + expr + ")"
		}
		return expr
	}
	g.p("func %s(v %s) any {", enc, ft)
	switch {
	case f.Nullable:
		g.p("if v == nil {\nreturn nil\n}")
		g.p("return %s", encConv("*v"))
	case f.Kind == kindModelRef: // the zero Ref is NULL
		g.p("return v.Value()")
	case f.Kind == kindRawJSON: // an empty RawMessage is no json text: NULL
		g.p("if len(v) == 0 {\nreturn nil\n}")
		g.p("return v")
	default:
		g.p("return %s", encConv("v"))
	}
	g.p("}")
	g.p("")
}
