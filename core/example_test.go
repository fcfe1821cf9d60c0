package core_test

import (
	"context"
	"fmt"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

func Example() {
	ctx := context.Background()
	node, err := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	c := node.Context(nil)

	trx := c.Begin()
	for _, a := range []struct {
		name string
		year int
	}{{"Showbiz", 1999}, {"Origin of Symmetry", 2001}, {"Absolution", 2003}} {
		m, _ := trx.Create(ctx, "album")
		m.Set("name", a.name)
		m.Set("year", a.year)
	}
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}

	albums, _ := c.Fetch(ctx, "album", "year > ? ORDER BY year DESC", 2000)
	for _, a := range albums {
		fmt.Println(a.Get("name").Raw(), a.Get("year").Text())
	}
	// Output:
	// Absolution 2003
	// Origin of Symmetry 2001
}

func ExampleContext_Query() {
	ctx := context.Background()
	node, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
	defer node.Close()
	c := node.Context(nil)

	lq, _ := c.Query(ctx, "album", "artist = ?", "Muse")
	defer lq.Close()
	changes := make(chan core.ChangeSet, 4)
	lq.Subscribe(func(cs core.ChangeSet) { changes <- cs })
	fmt.Println("initial:", len((<-changes).Items))

	trx := c.Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Drones")
	m.Set("artist", "Muse")
	trx.Commit(ctx)

	cs := <-changes
	fmt.Println(cs.Changes[0].Kind, cs.Changes[0].Entity.Get("name").Raw())
	// Output:
	// initial: 0
	// Add Drones
}

func ExampleTransaction_Delete() {
	ctx := context.Background()
	node, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
	defer node.Close()
	c := node.Context(nil)

	trx := c.Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Hullabaloo")
	trx.Commit(ctx)

	trx = c.Begin()
	trx.Delete(ctx, "album", m.ID())
	trx.Commit(ctx)

	_, err := c.Get(ctx, "album", m.ID())
	fmt.Println(err != nil)
	// Output: true
}

// ExampleNode_Connect links an ephemeral node (a CLI, a browser tab) to a
// durable one over an in-process pipe; websockets work the same way.
func ExampleNode_Connect() {
	ctx := context.Background()
	server, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{})
	defer server.Close()
	client, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	defer client.Close()

	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	peer, err := client.Connect(ctx, b, nil)
	if err != nil {
		panic(err)
	}
	defer peer.Close()

	trx := client.Context(nil).Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Black Holes and Revelations")
	if err := trx.Commit(ctx); err != nil { // completes once the server accepted it
		panic(err)
	}
	v, _ := server.Context(nil).Get(ctx, "album", m.ID())
	fmt.Println(v.Get("name").Raw())
	// Output: Black Holes and Revelations
}

// ExampleMut_Refresh shows an ephemeral node's edit of an entity it holds:
// Edit does not ask the server (protocol 9), a write-only edit is one
// request, and Refresh (or the first Get) reads the server's current state
// when the edit needs to see it — here, a name another writer set since.
func ExampleMut_Refresh() {
	ctx := context.Background()
	server, _ := core.NewNode(ctx, memory.New(), policy.Permissive{})
	defer server.Close()
	client, _ := core.NewNode(ctx, memory.New(), policy.Permissive{}, core.WithRole(core.Ephemeral))
	defer client.Close()
	a, b := transport.Pipe()
	go server.Accept(ctx, a)
	peer, err := client.Connect(ctx, b, nil)
	if err != nil {
		panic(err)
	}
	defer peer.Close()

	trx := client.Context(nil).Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Origin of Symmetry")
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	id := m.ID()

	// Another writer renames it on the server; the client's copy is stale.
	strx := server.Context(nil).Begin()
	sm, _ := strx.Edit(ctx, "album", id)
	sm.Set("name", "Absolution")
	if err := strx.Commit(ctx); err != nil {
		panic(err)
	}

	trx = client.Context(nil).Begin()
	m, _ = trx.Edit(ctx, "album", id) // no request yet
	if err := m.Refresh(ctx); err != nil {
		panic(err)
	}
	fmt.Println("the edit sees:", m.Get("name").Raw())
	m.Set("year", 2003)
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	v, _ := server.Context(nil).Get(ctx, "album", id)
	y, _ := v.Get("year").AsInt()
	fmt.Println("the server holds:", v.Get("name").Raw(), y)
	// Output:
	// the edit sees: Absolution
	// the server holds: Absolution 2003
}
