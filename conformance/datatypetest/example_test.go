package datatypetest_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/conformance/datatypetest"
)

// A datatype runs the suite from one test function; datatypetest.LWW is the
// harness of core's LWW backend, a plugin writes its own (Load + Edit).
func ExampleRun() {
	_ = func(t *testing.T) {
		datatypetest.Run(t, datatypetest.LWW)
	}
}
