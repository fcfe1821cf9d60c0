package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/event"
	"github.com/ankurah/ankurah-go/core/storage"
	"github.com/ankurah/ankurah-go/core/value"
	bolt "github.com/ankurah/ankurah-go/plugins/storage-bolt"
)

const crashChildEnv = "ANKURAH_BOLT_CRASH_CHILD"

// crashBatch is batch n of the crash test: one entity in each of two
// collections, so a torn batch would show as one without the other.
func crashBatch(n uint64) *storage.Batch {
	evA, a := genesis("a", n, map[string]value.Value{"n": value.Int(int64(n))})
	evB, b := genesis("b", n, map[string]value.Value{"n": value.Int(int64(n))})
	return &storage.Batch{
		Events: []event.Event{evA, evB},
		States: []storage.StateWrite{{State: a}, {State: b}},
	}
}

// TestCrash_KeepsEveryAcknowledgedBatch runs a child process that applies
// batches and prints each one Apply acknowledged, kills it with SIGKILL in
// mid-stream, and checks that the reopened file holds every acknowledged
// batch and no half of any batch.
func TestCrash_KeepsEveryAcknowledgedBatch(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash_KeepsEveryAcknowledgedBatch$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]bool{}
	lines := bufio.NewScanner(out)
	for len(acked) < 40 && lines.Scan() {
		if n, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
			i, err := strconv.ParseUint(n, 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", lines.Text())
			}
			acked[i] = true
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no Close
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 40 {
		t.Fatalf("child stopped after %d acknowledged batches", len(acked))
	}

	ctx := context.Background()
	e, err := bolt.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening after a crash: %v", err)
	}
	defer e.Close()
	stored := func(collection string) map[int64]bool {
		c, err := e.Collection(ctx, collection)
		if err != nil {
			t.Fatal(err)
		}
		all, err := c.FetchStates(ctx, mustBound(t, "true"))
		if err != nil {
			t.Fatal(err)
		}
		ns := map[int64]bool{}
		for _, s := range all {
			n, _ := s.Value("n").AsInt()
			ns[n] = true
		}
		return ns
	}
	inA, inB := stored("a"), stored("b")
	for n := range acked {
		if !inA[int64(n)] || !inB[int64(n)] {
			t.Errorf("acknowledged batch %d lost", n)
		}
	}
	for n := range inA {
		if !inB[n] {
			t.Errorf("batch %d is torn: in a, not in b", n)
		}
	}
	if len(inA) != len(inB) {
		t.Errorf("torn batches: %d entities in a, %d in b", len(inA), len(inB))
	}
	ca, _ := e.Collection(ctx, "a")
	// The index the child maintained still answers.
	got, err := ca.FetchStates(ctx, mustBound(t, "n < 40 ORDER BY n DESC LIMIT 1"))
	if err != nil || len(got) != 1 || !value.Equal(got[0].Value("n"), value.Int(39)) {
		t.Errorf("index after crash: %d states, %v", len(got), err)
	}
}

// crashChild applies batches until killed, printing each acknowledged one.
func crashChild(t *testing.T, path string) {
	ctx := context.Background()
	e, err := bolt.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.DeclareIndex(ctx, storage.Index{Collection: "a", Property: "n"}); err != nil {
		t.Fatal(err)
	}
	for n := uint64(0); n < 100_000; n++ {
		if err := e.Apply(ctx, crashBatch(n)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ack %d\n", n)
	}
}
