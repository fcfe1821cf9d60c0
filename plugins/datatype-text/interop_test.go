package text

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// yjsDriver talks to interop/yjs.mjs, a node process running npm yjs.
type yjsDriver struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

type yjsAnswer struct {
	Texts  map[string]string `json:"texts"`
	SV     string            `json:"sv"`
	State  string            `json:"state"`
	Update string            `json:"update"`
	Delta  json.RawMessage   `json:"delta"`
	Error  string            `json:"error"`
}

// startYjs starts the driver (see yjsNode for what it needs).
func startYjs(t *testing.T) *yjsDriver {
	t.Helper()
	node := yjsNode(t)
	cmd := exec.Command(node, filepath.Join("interop", "yjs.mjs"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 64<<20)
	return &yjsDriver{t: t, in: in, out: sc}
}

var npmCI sync.Once

// yjsNode returns the path of node, with npm yjs installed in
// interop/node_modules: if it is missing and npm is there, it runs npm ci in
// interop once (the versions pinned by its package-lock.json). Without node,
// or when the install fails, the test skips, except under CI=true where that
// is a failure.
func yjsNode(t testing.TB) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (install with: npm ci --prefix plugins/datatype-text/interop)", what)
		}
		t.Skipf("%s: skipping the Yjs interop test", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	installed := filepath.Join("interop", "node_modules", "yjs", "package.json")
	if _, err := os.Stat(installed); err != nil {
		npmCI.Do(func() {
			npm, err := exec.LookPath("npm")
			if err != nil {
				return
			}
			cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
			cmd.Dir = "interop"
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("npm ci in interop: %v\n%s", err, out)
			}
		})
	}
	if _, err := os.Stat(installed); err != nil {
		missing("npm yjs is not installed in interop/node_modules")
	}
	return node
}

func (y *yjsDriver) do(cmd map[string]any) yjsAnswer {
	y.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := y.in.Write(append(b, '\n')); err != nil {
		y.t.Fatal(err)
	}
	if !y.out.Scan() {
		y.t.Fatalf("yjs driver ended: %v", y.out.Err())
	}
	var a yjsAnswer
	if err := json.Unmarshal(y.out.Bytes(), &a); err != nil {
		y.t.Fatal(err)
	}
	if a.Error != "" {
		y.t.Fatalf("yjs: %s", a.Error)
	}
	return a
}

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// sameAsYjs checks that d holds the text and state vector yjs reported.
func sameAsYjs(t *testing.T, d *Doc, a yjsAnswer, name string) {
	t.Helper()
	if got, want := d.Text(name), a.Texts[name]; got != want {
		t.Fatalf("text %q: go %q, yjs %q", name, got, want)
	}
	sv, err := DecodeStateVector(unb64(t, a.SV))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(d.StateVector(), sv) {
		t.Fatalf("state vector: go %v, yjs %v", d.StateVector(), sv)
	}
}

func TestInterop_YjsUpdatesApplyInGo(t *testing.T) {
	y := startYjs(t)
	y.do(map[string]any{"op": "new", "doc": "a", "client": 11})
	y.do(map[string]any{"op": "new", "doc": "b", "client": 22})
	var updates []string
	edit := func(cmd map[string]any) yjsAnswer {
		a := y.do(cmd)
		if a.Update != "" {
			updates = append(updates, a.Update)
		}
		return a
	}
	edit(map[string]any{"op": "insert", "doc": "a", "name": "t", "pos": 0, "text": "héllo 😀 world"})
	y.do(map[string]any{"op": "apply", "doc": "b", "update": updates[0]})
	edit(map[string]any{"op": "insert", "doc": "a", "name": "t", "pos": 7, "text": "🎉🎉"})
	edit(map[string]any{"op": "delete", "doc": "a", "name": "t", "pos": 6, "len": 2})
	edit(map[string]any{"op": "insert", "doc": "b", "name": "t", "pos": 7, "text": "𝄞b"})
	edit(map[string]any{"op": "delete", "doc": "b", "name": "t", "pos": 0, "len": 3})
	for _, u := range updates {
		y.do(map[string]any{"op": "apply", "doc": "a", "update": u})
	}
	final := y.do(map[string]any{"op": "apply", "doc": "a", "update": updates[0]})

	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		d := NewDoc(99)
		order := rng.Perm(len(updates))
		for _, i := range order {
			if err := d.ApplyUpdate(unb64(t, updates[i])); err != nil {
				t.Fatal(err)
			}
		}
		if t.Failed() {
			t.Fatalf("round %d, order %v", round, order)
		}
		sameAsYjs(t, d, final, "t")
	}
	// Yjs's whole state loads too.
	d := NewDoc(99)
	if err := d.ApplyUpdate(unb64(t, final.State)); err != nil {
		t.Fatal(err)
	}
	sameAsYjs(t, d, final, "t")
}

func TestInterop_GoUpdatesApplyInYjs(t *testing.T) {
	y := startYjs(t)
	y.do(map[string]any{"op": "new", "doc": "a", "client": 11})
	d := NewDoc(12345)
	steps := []func() error{
		func() error { return d.Insert("t", 0, "a😀b") },
		func() error { return d.Insert("t", 2, "ü𝄞") },
		func() error { return d.Insert("t", 5, "end") },
		func() error { return d.Delete("t", 1, 2) },
		func() error { return d.Insert("t", 0, "start ") },
		func() error { return d.Delete("t", 0, d.Len("t")) },
		func() error { return d.Insert("t", 0, "🙂 again") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		a := y.do(map[string]any{"op": "apply", "doc": "a", "update": b64(d.TakeUpdate())})
		if a.Texts["t"] != d.Text("t") {
			t.Fatalf("step %d: yjs %q, go %q", i, a.Texts["t"], d.Text("t"))
		}
		sameAsYjs(t, d, a, "t")
	}
	// Go's whole state loads in Yjs.
	y.do(map[string]any{"op": "new", "doc": "b", "client": 13})
	a := y.do(map[string]any{"op": "apply", "doc": "b", "update": b64(d.EncodeStateAsUpdate())})
	sameAsYjs(t, d, a, "t")
}

// randomEdit makes one random edit of the text name: an insert (often of
// characters outside the BMP) or a delete.
func randomEdit(rng *rand.Rand, length int) (insert bool, pos, n int, s string) {
	alphabet := []rune("abcdefg é€😀🎉𝄞")
	if length > 0 && rng.IntN(3) == 0 {
		pos = rng.IntN(length)
		n = 1 + rng.IntN(min(4, length-pos))
		return false, pos, n, ""
	}
	r := make([]rune, 1+rng.IntN(4))
	for i := range r {
		r[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return true, rng.IntN(length + 1), 0, string(r)
}

func TestInterop_ConcurrentEditsConverge(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TEXT_INTEROP_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TEXT_INTEROP_SEED=%q: %v", s, err)
		}
		seed = v
	}
	defer func() {
		if t.Failed() {
			t.Logf("replay with TEXT_INTEROP_SEED=%d", seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 0))
	y := startYjs(t)
	y.do(map[string]any{"op": "new", "doc": "y", "client": 7})
	g := NewDoc(8)
	for round := range 30 {
		// Both sides edit concurrently, then exchange what they did.
		var yUpdates []string
		for range 1 + rng.IntN(4) {
			a := y.do(map[string]any{"op": "apply", "doc": "y", "update": b64(NewDoc(0).EncodeStateAsUpdate())})
			length := len([]rune(a.Texts["t"]))
			ins, pos, n, s := randomEdit(rng, length)
			var cmd map[string]any
			if ins {
				cmd = map[string]any{"op": "insert", "doc": "y", "name": "t", "pos": pos, "text": s}
			} else {
				cmd = map[string]any{"op": "delete", "doc": "y", "name": "t", "pos": pos, "len": n}
			}
			if u := y.do(cmd).Update; u != "" {
				yUpdates = append(yUpdates, u)
			}
		}
		var gUpdates [][]byte
		for range 1 + rng.IntN(4) {
			ins, pos, n, s := randomEdit(rng, g.Len("t"))
			var err error
			if ins {
				err = g.Insert("t", pos, s)
			} else {
				err = g.Delete("t", pos, n)
			}
			if err != nil {
				t.Fatal(err)
			}
			if rng.IntN(2) == 0 {
				gUpdates = append(gUpdates, g.TakeUpdate())
			}
		}
		if u := g.TakeUpdate(); u != nil {
			gUpdates = append(gUpdates, u)
		}
		// Deliver each side's updates to the other in a random order, some twice.
		for _, i := range rng.Perm(len(yUpdates)) {
			if err := g.ApplyUpdate(unb64(t, yUpdates[i])); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(4) == 0 {
				if err := g.ApplyUpdate(unb64(t, yUpdates[i])); err != nil {
					t.Fatal(err)
				}
			}
		}
		var a yjsAnswer
		for _, i := range rng.Perm(len(gUpdates)) {
			a = y.do(map[string]any{"op": "apply", "doc": "y", "update": b64(gUpdates[i])})
			if rng.IntN(4) == 0 {
				a = y.do(map[string]any{"op": "apply", "doc": "y", "update": b64(gUpdates[i])})
			}
		}
		if len(gUpdates) == 0 {
			a = y.do(map[string]any{"op": "apply", "doc": "y", "update": b64(NewDoc(0).EncodeStateAsUpdate())})
		}
		if g.Text("t") != a.Texts["t"] {
			t.Fatalf("round %d: go %q, yjs %q", round, g.Text("t"), a.Texts["t"])
		}
		sameAsYjs(t, g, a, "t")
	}
}

// A Yjs peer may insert between the two halves of a surrogate pair; Yjs then
// turns both halves into U+FFFD, and so must we.
func TestInterop_SplitSurrogatePairBecomesReplacementCharacters(t *testing.T) {
	y := startYjs(t)
	y.do(map[string]any{"op": "new", "doc": "a", "client": 31})
	first := y.do(map[string]any{"op": "insert", "doc": "a", "name": "t", "pos": 0, "text": "a😀b"})
	second := y.do(map[string]any{"op": "insert16", "doc": "a", "name": "t", "pos": 2, "text": "X"})
	d := NewDoc(32)
	for _, u := range []string{first.Update, second.Update} {
		if err := d.ApplyUpdate(unb64(t, u)); err != nil {
			t.Fatal(err)
		}
	}
	sameAsYjs(t, d, second, "t")
	if want := "a\uFFFDX\uFFFDb"; d.Text("t") != want {
		t.Fatalf("text %q, want %q", d.Text("t"), want)
	}
	// Our edits after it land where Yjs puts them.
	_ = d.Insert("t", 5, "!")
	_ = d.Delete("t", 1, 1)
	a := y.do(map[string]any{"op": "apply", "doc": "a", "update": b64(d.TakeUpdate())})
	sameAsYjs(t, d, a, "t")
}

// A state holding pending structs (written after Skip structs) loads in Yjs,
// which integrates them once the gap is filled.
func TestInterop_StateWithPendingStructsLoadsInYjs(t *testing.T) {
	y := startYjs(t)
	src := NewDoc(1)
	_ = src.Insert("t", 0, "one 😀 ")
	u1 := src.TakeUpdate()
	_ = src.Insert("t", 6, "two ")
	u2 := src.TakeUpdate()
	_ = src.Insert("t", 10, "three")
	u3 := src.TakeUpdate()
	d := NewDoc(2)
	for _, u := range [][]byte{u1, u3} {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	y.do(map[string]any{"op": "new", "doc": "p", "client": 3})
	y.do(map[string]any{"op": "apply", "doc": "p", "update": b64(d.EncodeStateAsUpdate())})
	a := y.do(map[string]any{"op": "apply", "doc": "p", "update": b64(u2)})
	sameAsYjs(t, src, a, "t")
}

// Formatting marks and embeds of a Y.Text pass through Go unchanged: Go's
// state loads in Yjs with the same rich-text delta.
func TestInterop_FormatAndEmbedPassThrough(t *testing.T) {
	y := startYjs(t)
	y.do(map[string]any{"op": "new", "doc": "a", "client": 41})
	var updates []string
	for _, cmd := range []map[string]any{
		{"op": "insert", "doc": "a", "name": "t", "pos": 0, "text": "bold 😀 plain"},
		{"op": "format", "doc": "a", "name": "t", "pos": 0, "len": 4},
		{"op": "embed", "doc": "a", "name": "t", "pos": 5, "text": "cat.png"},
	} {
		updates = append(updates, y.do(cmd).Update)
	}
	want := y.do(map[string]any{"op": "delta", "doc": "a", "name": "t"})
	d := NewDoc(42)
	for _, u := range updates {
		if err := d.ApplyUpdate(unb64(t, u)); err != nil {
			t.Fatal(err)
		}
	}
	sameAsYjs(t, d, want, "t")
	y.do(map[string]any{"op": "new", "doc": "b", "client": 43})
	got := y.do(map[string]any{"op": "apply", "doc": "b", "update": b64(d.EncodeStateAsUpdate())})
	if string(got.Delta) != string(want.Delta) {
		t.Fatalf("delta after a trip through Go:\n%s\nwant\n%s", got.Delta, want.Delta)
	}
	// Go edits the plain text around them; Yjs agrees on the result.
	if err := d.Insert("t", d.Len("t"), "!"); err != nil {
		t.Fatal(err)
	}
	a := y.do(map[string]any{"op": "apply", "doc": "b", "update": b64(d.TakeUpdate())})
	sameAsYjs(t, d, a, "t")
}

// Random local edits (deletions followed by inserts at, before and after the
// deleted text, characters outside the BMP, the ends of the text) make the
// same update bytes as the same edits in Yjs under the same client id.
func TestInterop_LocalEditsMakeYjsBytes(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TEXT_INTEROP_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TEXT_INTEROP_SEED=%q: %v", s, err)
		}
		seed = v
	}
	defer func() {
		if t.Failed() {
			t.Logf("replay with TEXT_INTEROP_SEED=%d", seed)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 1))
	y := startYjs(t)
	y.do(map[string]any{"op": "new", "doc": "y", "client": 77})
	g := NewDoc(77)
	lastDel := -1
	for step := range 400 {
		ins, pos, n, s := randomEdit(rng, g.Len("t"))
		if ins && lastDel >= 0 && rng.IntN(2) == 0 {
			pos = min(lastDel, g.Len("t")) // type where text was just deleted
		}
		var cmd map[string]any
		var err error
		if ins {
			cmd = map[string]any{"op": "insert", "doc": "y", "name": "t", "pos": pos, "text": s}
			err = g.Insert("t", pos, s)
			lastDel = -1
		} else {
			cmd = map[string]any{"op": "delete", "doc": "y", "name": "t", "pos": pos, "len": n}
			err = g.Delete("t", pos, n)
			lastDel = pos
		}
		if err != nil {
			t.Fatal(err)
		}
		a := y.do(cmd)
		if got, want := b64(g.TakeUpdate()), a.Update; got != want {
			t.Fatalf("step %d (%v): update\n go  %x\n yjs %x", step, cmd, unb64(t, got), unb64(t, want))
		}
		sameAsYjs(t, g, a, "t")
	}
	if got, want := g.EncodeStateAsUpdate(), unb64(t, y.do(map[string]any{"op": "delta", "doc": "y", "name": "t"}).State); len(got) > len(want) {
		t.Fatalf("document %d bytes, yjs %d", len(got), len(want))
	}
}
