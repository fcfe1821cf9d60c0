package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// A node refuses, with an error naming the limit, a commit that would leave
// an entity beyond its limits; nothing is stored.
func ExampleWithLimits() {
	ctx := context.Background()
	node, _ := core.NewNode(context.Background(), memory.New(), policy.Permissive{}, core.WithLimits(limits.Limits{MaxStateBytes: 64 << 10}))
	defer node.Close()
	trx := node.Context(nil).Begin()
	note, _ := trx.Create(ctx, "note")
	note.Set("body", strings.Repeat("x", 100<<10))
	err := trx.Commit(ctx)
	fmt.Println(errors.Is(err, core.ErrLimit), strings.Contains(err.Error(), "max-state-bytes"))
	views, _ := node.Context(nil).Fetch(ctx, "note", "true")
	fmt.Println(len(views), "notes stored")
	// Output:
	// true true
	// 0 notes stored
}
