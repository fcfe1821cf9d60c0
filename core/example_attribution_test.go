package core_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// An agent that names its callers (policy.Identifier): here the context
// data is the user's name.
type namedUsers struct{ policy.Permissive }

func (namedUsers) Identify(cdata policy.ContextData) string { s, _ := cdata.(string); return s }

// Who wrote what when: the durable node's record of each event it accepted,
// for an operator's tools.
func ExampleNode_Attribution() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC) }
	node, err := core.NewNode(ctx, memory.New(), namedUsers{}, core.WithClock(clock), core.WithAttribution(16))
	if err != nil {
		panic(err)
	}
	defer node.Close()

	trx := node.Context("alice").Begin()
	m, _ := trx.Create(ctx, "album")
	m.Set("name", "Absolution")
	if err := trx.Commit(ctx); err != nil {
		panic(err)
	}
	record, err := node.Attribution(ctx, m.ID())
	if err != nil {
		panic(err)
	}
	for _, a := range record {
		fmt.Println(a.Author, a.At.Format(time.RFC3339), a.Event == id.EventID(m.ID()))
	}
	// Output:
	// alice 2026-12-02T09:30:00Z true
}
