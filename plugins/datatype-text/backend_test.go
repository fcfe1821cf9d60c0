package text

import (
	"bytes"
	"errors"
	"maps"
	"testing"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/property"
	"github.com/ankurah/ankurah-go/core/value"
)

// entityHandle is a property.Handle over one backend, as a node's
// transaction (writable) or view (read-only) provides.
type entityHandle struct {
	prop     string
	be       property.Backend
	writable bool
}

func (h entityHandle) Property() string { return h.prop }
func (h entityHandle) Writable() bool   { return h.writable }
func (h entityHandle) Backend(name string) (property.Backend, error) {
	if name != h.be.Name() {
		return nil, property.ErrUnknownBackend
	}
	return h.be, nil
}

func TestBackend_RegisteredUnderText(t *testing.T) {
	f, err := property.Lookup("text")
	if err != nil {
		t.Fatal(err)
	}
	src := New()
	_ = src.Doc().Insert("body", 0, "hi 👋")
	state, _ := src.State()
	be, err := f(state)
	if err != nil {
		t.Fatal(err)
	}
	if got := be.Values(); !maps.EqualFunc(got.Map(), map[string]value.Value{"body": value.String("hi 👋")}, value.Equal) {
		t.Fatalf("values = %v", got)
	}
	if _, err := f([]byte{0xff}); !errors.Is(err, property.ErrInvalid) {
		t.Fatalf("bad state: %v", err)
	}
}

func TestBackend_ForkIsIndependentWithFreshClient(t *testing.T) {
	main := New()
	_ = main.Doc().Insert("t", 0, "base")
	fork := main.Fork().(*Backend)
	if fork.Doc().ClientID() == main.Doc().ClientID() {
		t.Fatal("fork reuses the client id")
	}
	_ = fork.Doc().Insert("t", 4, "!")
	if main.Doc().Text("t") != "base" || fork.Doc().Text("t") != "base!" {
		t.Fatalf("not independent: %q / %q", main.Doc().Text("t"), fork.Doc().Text("t"))
	}
	ops, _ := fork.TakeOperations()
	if ops == nil {
		t.Fatal("no operations for a local edit")
	}
	if again, _ := fork.TakeOperations(); again != nil {
		t.Fatal("operations taken twice")
	}
	// After the commit, the next fork continues the committed id (the
	// document already holds all of it); forks open at the same time never
	// share an id, and none takes an id of the document it cannot continue.
	if err := main.Apply(id.EventID{1}, ops); err != nil {
		t.Fatal(err)
	}
	next := main.Fork().(*Backend)
	if next.Doc().ClientID() != fork.Doc().ClientID() {
		t.Fatalf("fork after commit drew %d, want to continue %d", next.Doc().ClientID(), fork.Doc().ClientID())
	}
	seen := map[uint64]bool{main.Doc().ClientID(): true, fork.Doc().ClientID(): true}
	for range 50 {
		c := main.Fork().(*Backend).Doc().ClientID()
		if seen[c] {
			t.Fatalf("client id %d given to two open forks", c)
		}
		seen[c] = true
	}
	// A fork of a document that lacks the last edits under an id must not continue it.
	_ = next.Doc().Insert("t", 0, ">")
	if _, err := next.TakeOperations(); err != nil {
		t.Fatal(err)
	}
	if stale := main.Fork().(*Backend); stale.Doc().ClientID() == fork.Doc().ClientID() {
		t.Fatal("a fork of a stale document continued an id whose later edits it lacks")
	}
}

func TestBackend_ConcurrentTransactionsMergeInAnyOrder(t *testing.T) {
	base := New()
	_ = base.Doc().Insert("t", 0, "hello world")
	state, _ := base.State()
	a, _ := Load(state)
	b, _ := Load(state)
	fa, fb := a.Fork().(*Backend), b.Fork().(*Backend)
	_ = fa.Doc().Insert("t", 5, ",")
	_ = fa.Doc().Delete("t", 0, 1)
	_ = fb.Doc().Insert("t", 11, " 🌍")
	_ = fb.Doc().Insert("t", 0, "H")
	opsA, _ := fa.TakeOperations()
	opsB, _ := fb.TakeOperations()
	for _, step := range [][]byte{opsA, opsB, opsA} {
		if err := a.Apply(id.EventID{1}, step); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range [][]byte{opsB, opsA} {
		if err := b.Apply(id.EventID{2}, step); err != nil {
			t.Fatal(err)
		}
	}
	sa, _ := a.State()
	sb, _ := b.State()
	if !bytes.Equal(sa, sb) {
		t.Fatal("states differ")
	}
	if got := a.Doc().Text("t"); got != "Hello, world 🌍" {
		t.Fatalf("text = %q", got)
	}
}

func TestBackend_ApplyRejectsGarbage(t *testing.T) {
	b := New()
	_ = b.Doc().Insert("t", 0, "keep")
	for _, bad := range [][]byte{{0xff}, {1, 1, 5}, {0, 0, 7}} {
		if err := b.Apply(id.EventID{}, bad); !errors.Is(err, property.ErrInvalid) || !errors.Is(err, ErrInvalidUpdate) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
	if b.Doc().Text("t") != "keep" {
		t.Fatal("a rejected update changed the text")
	}
}

func TestMut_EditsThroughHandle(t *testing.T) {
	be := New()
	m := Text{}.AnkurahMut(entityHandle{prop: "body", be: be, writable: true})
	v := Text{}.AnkurahView(entityHandle{prop: "body", be: be})
	tests := []struct {
		name string
		edit func() error
		want string
	}{
		{"insert", func() error { return m.Insert(0, "hello 😀") }, "hello 😀"},
		{"delete", func() error { return m.Delete(0, 1) }, "ello 😀"},
		{"splice", func() error { return m.Splice(5, 1, "🎉!") }, "ello 🎉!"},
		{"replace keeps common parts", func() error { return m.Replace("hello 🎉!") }, "hello 🎉!"},
		{"out of range", func() error {
			if err := m.Delete(5, 10); !errors.Is(err, ErrOutOfRange) {
				return errors.New("no ErrOutOfRange")
			}
			return nil
		}, "hello 🎉!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.edit(); err != nil {
				t.Fatal(err)
			}
			if m.String() != tt.want || v.String() != tt.want {
				t.Fatalf("mut %q, view %q, want %q", m.String(), v.String(), tt.want)
			}
		})
	}
	ro := Text{}.AnkurahMut(entityHandle{prop: "body", be: be})
	if err := ro.Insert(0, "x"); !errors.Is(err, property.ErrReadOnly) {
		t.Fatalf("read-only insert: %v", err)
	}
	if err := ro.Replace(""); !errors.Is(err, property.ErrReadOnly) {
		t.Fatalf("read-only replace: %v", err)
	}
}
