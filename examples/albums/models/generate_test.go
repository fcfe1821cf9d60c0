package models

import (
	"os/exec"
	"testing"
)

// The committed generated files must be what ankurah-gen writes today.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	out, err := exec.Command("go", "tool", "ankurah-gen", "-check", "-ts", "models.ts").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
