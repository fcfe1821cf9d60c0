package datatypetest_test

import (
	"testing"

	"github.com/ankurah/ankurah-go/conformance/datatypetest"
)

func TestLWW(t *testing.T) { datatypetest.Run(t, datatypetest.LWW) }
