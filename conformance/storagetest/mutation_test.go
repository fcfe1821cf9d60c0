package storagetest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMutationScore holds the suite to the catalogue of deliberate bugs in
// core/storage/kv: it runs TestMutants (built with the ankurah_mutants tag,
// which switches the bugs on) and fails if any bug survives the suite.
func TestMutationScore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package again with the ankurah_mutants tag")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the mutants: %v", err)
	}
	report := filepath.Join(t.TempDir(), "score")
	cmd := exec.CommandContext(t.Context(), gobin, "test", "-tags", "ankurah_mutants", "-run", "^TestMutants$", "-count=1", ".")
	cmd.Env = append(os.Environ(), "ANKURAH_MUTATION_REPORT="+report)
	out, err := cmd.CombinedOutput()
	score, _ := os.ReadFile(report)
	t.Log(strings.TrimSpace(string(score)))
	if err != nil {
		t.Fatalf("mutants survived or the run failed: %v\n%s", err, out)
	}
}
