//go:build !js

package ws

import (
	"bytes"
	"runtime"
	"testing"
)

// A small message read after a large one is read into the scratch buffer:
// it allocates about its own size, not a buffer of the large one's; a large
// message after a large one is read into one buffer of about its size. The
// small messages are a short one and one of exactly the scratch buffer's
// size. The messages arrive whole.
func TestRecv_SmallMessageAfterALargeOneAllocatesItsOwnSize(t *testing.T) {
	ctx := testCtx(t)
	server, client := withPair(t, keepaliveConfig{}, keepaliveConfig{})
	large := bytes.Repeat([]byte("0123456789abcdef"), 2<<20/16) // 2 MiB
	for round, small := range [][]byte{[]byte("a small message after a large one"), bytes.Repeat([]byte{7}, keepReadBuf)} {
		for k := range 2 {
			if err := client.Send(ctx, large); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := server.Recv(ctx)
			runtime.ReadMemStats(&after)
			if err != nil || !bytes.Equal(got, large) {
				t.Fatalf("round %d: large message %d: %d bytes, %v", round, k, len(got), err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; k == 1 && n > uint64(len(large))*3/2 {
				t.Fatalf("round %d: a %d-byte message after one of its size allocated %d bytes", round, len(large), n)
			}
		}
		if err := client.Send(ctx, small); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := server.Recv(ctx)
		runtime.ReadMemStats(&after)
		if err != nil || !bytes.Equal(got, small) {
			t.Fatalf("round %d: small message: %q, %v", round, got, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 512<<10 {
			t.Fatalf("round %d: receiving a %d-byte message after a %d-byte one allocated %d bytes", round, len(small), len(large), n)
		}
	}
}
