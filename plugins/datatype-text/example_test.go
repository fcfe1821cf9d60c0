package text_test

import (
	"errors"
	"fmt"

	"github.com/ankurah/ankurah-go/core/property"
	text "github.com/ankurah/ankurah-go/plugins/datatype-text"
)

// Two replicas edit the same text concurrently and exchange Yjs updates.
func ExampleDoc() {
	alice, bob := text.NewDoc(1), text.NewDoc(2)
	_ = alice.Insert("notes", 0, "hello")
	_ = bob.ApplyUpdate(alice.TakeUpdate())

	_ = alice.Insert("notes", 5, " world")
	_ = bob.Insert("notes", 0, "👋 ")
	fromAlice, fromBob := alice.TakeUpdate(), bob.TakeUpdate()
	_ = alice.ApplyUpdate(fromBob)
	_ = bob.ApplyUpdate(fromAlice)

	fmt.Println(alice.Text("notes"))
	fmt.Println(bob.Text("notes"), bob.Len("notes"))
	// Output:
	// 👋 hello world
	// 👋 hello world 13
}

// A transaction forks the entity's backend, edits it, and its operations are
// applied back as an event's payload.
func ExampleBackend() {
	entity := text.New()
	trx := entity.Fork().(*text.Backend)
	_ = trx.Doc().Insert("body", 0, "draft")
	ops, _ := trx.TakeOperations()
	_ = entity.Apply([32]byte{1}, ops)
	body, _ := entity.Values().Get("body").AsString()
	fmt.Println(body)
	// Output: draft
}

// handle is a minimal property.Handle, standing in for the one a node's
// transaction or view provides.
type handle struct {
	be       *text.Backend
	writable bool
}

func (h handle) Property() string                         { return "body" }
func (h handle) Writable() bool                           { return h.writable }
func (h handle) Backend(string) (property.Backend, error) { return h.be, nil }

// A model field of type text.Text is edited through its Mut handle and read
// through its View.
func ExampleText() {
	be := text.New()
	body := text.Text{}.AnkurahMut(handle{be: be, writable: true})
	_ = body.Insert(0, "Hello wrld")
	_ = body.Insert(7, "o")
	_ = body.Replace("Hello, world! 👋")

	view := text.Text{}.AnkurahView(handle{be: be})
	fmt.Println(view.String())

	readOnly := text.Text{}.AnkurahMut(handle{be: be})
	fmt.Println(errors.Is(readOnly.Insert(0, "x"), property.ErrReadOnly))
	// Output:
	// Hello, world! 👋
	// true
}
