package core_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/limits"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/storage/memory"
	"github.com/ankurah/ankurah-go/core/transport"
)

// panickingEngine is a memory engine whose Apply panics on a large batch
// (a bug in storage code while a client stores a part of an answer).
type panickingEngine struct{ storage.Engine }

func (e panickingEngine) Apply(ctx context.Context, b *storage.Batch) error {
	if len(b.States) >= 64 {
		panic("engine bug while storing a part")
	}
	return e.Engine.Apply(ctx, b)
}

// A panic while a client stores a large part of an answer (while it reads
// the next message beside it) crashes the process at once, as any panic
// does: it is not held until the durable peer sends again. The child
// process's durable peer sends the first part of a streamed answer and then
// nothing.
func TestClient_PanicWhileStoringAPartIsNotHeld(t *testing.T) {
	const child = "ANKURAH_TEST_PANIC_CHILD"
	if os.Getenv(child) == "1" {
		panicChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestClient_PanicWhileStoringAPartIsNotHeld$", "-test.count=1")
	cmd.Env = append(os.Environ(), child+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(out.String(), "engine bug while storing a part") {
			t.Fatalf("child exited with %v, want the engine's panic; output:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the panic was held: the child still ran 30 s later; output:\n%s", out.String())
	}
}

func panicChild(t *testing.T) {
	ctx := context.Background()
	server := newNode(t, core.WithLimits(limits.Limits{ChunkBytes: 32 << 10}))
	trx := server.Context(nil).Begin()
	for i := range 600 {
		m, err := trx.Create(ctx, "note")
		must(t, err)
		must(t, m.Set("body", strings.Repeat("n", 100)))
		must(t, m.Set("i", i))
	}
	must(t, trx.Commit(ctx))

	// The client's side of the link forwards everything to the server and
	// the server's messages back, up to the first large part of a streamed
	// answer: then it forwards nothing more and keeps the connection open.
	sa, sb := transport.Pipe()
	ca, cb := transport.Pipe()
	go server.Accept(ctx, sa)
	go func() {
		for {
			f, err := cb.Recv(ctx)
			if err != nil || sb.Send(ctx, f) != nil {
				return
			}
		}
	}()
	go func() {
		for {
			f, err := sb.Recv(ctx)
			if err != nil || cb.Send(ctx, f) != nil {
				return
			}
			if m, err := transport.Decode(f); err == nil && m.More && m.Response != nil && len(m.Response.States) >= 64 {
				return
			}
		}
	}()
	client := newNodeOn(t, panickingEngine{memory.New()}, policy.Permissive{}, core.WithRole(core.Ephemeral))
	if _, err := client.Connect(ctx, ca, nil); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err := client.Context(nil).Fetch(fctx, "note", "true")
	t.Fatalf("the fetch returned (%v); the engine should have panicked first", err)
}
