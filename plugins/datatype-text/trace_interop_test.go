package text

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// traceFiles lists the editing traces to test with: testdata's, and those of
// the shared collection (sharedTracesDir) when it is there.
func traceFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		seen[filepath.Base(f)] = true
	}
	if dir := sharedTracesDir(); dir != "" {
		shared, err := filepath.Glob(filepath.Join(dir, "*.json.gz"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range shared {
			if !seen[filepath.Base(f)] {
				files = append(files, f)
			}
		}
	} else {
		t.Log("shared editing traces not found (set EDITING_TRACES_DIR): testing testdata's only")
	}
	return files
}

// yjsTrace is what interop/trace.mjs reports for one trace.
type yjsTrace struct {
	Updates []string `json:"updates"`
	State   string   `json:"state"`
}

// Every transaction of every editing trace makes the same update bytes here
// as in Yjs, and the final document is no larger than Yjs's.
func TestInterop_TraceUpdatesAreYjsBytes(t *testing.T) {
	node := yjsNode(t)
	for _, path := range traceFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out, err := exec.Command(node, filepath.Join("interop", "trace.mjs"), path).Output()
			if err != nil {
				t.Fatalf("interop/trace.mjs: %v", err)
			}
			var y yjsTrace
			if err := json.Unmarshal(out, &y); err != nil {
				t.Fatal(err)
			}
			tr := loadTrace(t, path)
			updates, final := replayTrace(t, tr)
			if len(updates) != len(y.Updates) {
				t.Fatalf("%d updates, yjs %d", len(updates), len(y.Updates))
			}
			same, first := 0, -1
			for i, u := range updates {
				if bytes.Equal(u, unb64(t, y.Updates[i])) {
					same++
				} else if first < 0 {
					first = i
				}
			}
			state, yState := final.EncodeStateAsUpdate(), unb64(t, y.State)
			t.Logf("%d of %d updates byte-identical; document %d bytes, yjs %d", same, len(updates), len(state), len(yState))
			if first >= 0 {
				t.Errorf("update of transaction %d (%v):\n go  %x\n yjs %x", first, tr.Txns[first].Patches, updates[first], unb64(t, y.Updates[first]))
			}
			if len(state) > len(yState) {
				t.Errorf("document %d bytes, larger than yjs's %d", len(state), len(yState))
			}
			if final.Text("t") != tr.EndContent {
				t.Error("final text differs from endContent")
			}
		})
	}
}
