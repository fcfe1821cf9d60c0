package transporttest_test

import (
	"context"
	"testing"

	"github.com/ankurah/ankurah-go/conformance/transporttest"
	"github.com/ankurah/ankurah-go/core/transport"
)

func TestPipe(t *testing.T) {
	transporttest.Run(t, func(context.Context, *testing.T) (transport.Connection, transport.Connection) {
		return transport.Pipe()
	})
}
