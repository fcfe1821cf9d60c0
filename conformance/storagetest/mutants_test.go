//go:build ankurah_mutants

package storagetest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/conformance/storagetest"
	"github.com/ankurah/ankurah-go/core/storage/kv"
)

// TestMutants runs the suite against the key-value toolkit with each
// deliberate bug of its catalogue (kv.Mutants) switched on: every one must
// make some case fail. TestMutationScore runs it (this file needs the
// ankurah_mutants build tag).
func TestMutants(t *testing.T) {
	ctx := context.Background()
	cases := storagetest.Cases()
	// Transactions that start a little late let racing writers read the
	// same heads first, so a head check outside the write is always caught.
	newHarness := func(ctx context.Context, _ storagetest.T) (storagetest.Harness, error) {
		return newDelayedKVHarness(ctx, 200*time.Microsecond)
	}
	var survivors []string
	killed := 0
	for _, m := range kv.Mutants() {
		kv.SetMutant(m)
		by := ""
		for _, c := range cases {
			if r := storagetest.Execute(ctx, c, newHarness); r.Status == storagetest.Fail {
				by = c.Name
				break
			}
		}
		if by == "" {
			survivors = append(survivors, m.Name)
			t.Errorf("mutant %s (%s) survived the suite", m.Name, m.Bug)
		} else {
			killed++
			t.Logf("mutant %s killed by %s", m.Name, by)
		}
	}
	kv.SetMutant(kv.Mutant{})
	score := fmt.Sprintf("mutation score: %d of %d mutants killed", killed, killed+len(survivors))
	if len(survivors) > 0 {
		score += "; survivors: " + strings.Join(survivors, ", ")
	}
	t.Log(score)
	if path := os.Getenv("ANKURAH_MUTATION_REPORT"); path != "" {
		_ = os.WriteFile(path, []byte(score+"\n"), 0o644)
	}
}
