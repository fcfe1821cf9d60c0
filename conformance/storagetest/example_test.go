package storagetest_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage/memory"
)

// A runner outside `go test` (such as the ankurah-conformance command) runs
// each case with Execute and reports the outcomes.
func ExampleExecute() {
	newHarness := func(context.Context, storagetest.T) (storagetest.Harness, error) {
		return storagetest.NewHarness(memory.New(), storagetest.Capabilities{Indexes: true, Lookup: true, Repair: true}, nil), nil
	}
	counts := map[storagetest.Status]int{}
	for _, c := range storagetest.Cases() {
		if !strings.HasPrefix(c.Name, "Apply/") {
			continue
		}
		r := storagetest.Execute(context.Background(), c, newHarness)
		counts[r.Status]++
		if r.Status == storagetest.Fail {
			fmt.Println(r.Name, r.Log)
		}
	}
	fmt.Println("pass:", counts[storagetest.Pass], "fail:", counts[storagetest.Fail], "skip:", counts[storagetest.Skip])
	// Output:
	// pass: 8 fail: 0 skip: 0
}
