package text

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// trace is an editing trace in the editing-traces format: sequential
// (patches applied in order) or concurrent (each transaction on top of the
// merge of its parents).
type trace struct {
	Kind         string `json:"kind"`
	StartContent string `json:"startContent"`
	EndContent   string `json:"endContent"`
	Txns         []struct {
		Parents     []int   `json:"parents"`
		NumChildren int     `json:"numChildren"`
		Agent       int     `json:"agent"`
		Patches     []patch `json:"patches"`
	} `json:"txns"`
}

// patch is [position, deleted code points, inserted text].
type patch struct {
	Pos int
	Del int
	Ins string
}

func (p *patch) UnmarshalJSON(b []byte) error {
	var a [3]json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(a[0], &p.Pos); err != nil {
		return err
	}
	if err := json.Unmarshal(a[1], &p.Del); err != nil {
		return err
	}
	return json.Unmarshal(a[2], &p.Ins)
}

func loadTrace(tb testing.TB, path string) *trace {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var tr trace
	if err := json.NewDecoder(z).Decode(&tr); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return &tr
}

func applyPatches(tb testing.TB, d *Doc, name string, ps []patch) {
	for _, p := range ps {
		if p.Del > 0 {
			if err := d.Delete(name, p.Pos, p.Del); err != nil {
				tb.Fatal(err)
			}
		}
		if p.Ins != "" {
			if err := d.Insert(name, p.Pos, p.Ins); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func TestTrace_SequentialReachesEndContent(t *testing.T) {
	tr := loadTrace(t, "testdata/seph-blog1.json.gz")
	d := NewDoc(1)
	replica := NewDoc(2)
	_ = d.Insert("t", 0, tr.StartContent)
	for i, txn := range tr.Txns {
		applyPatches(t, d, "t", txn.Patches)
		if i%50 == 0 { // a replica follows through the updates, in batches
			if err := replica.ApplyUpdate(d.TakeUpdate()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := replica.ApplyUpdate(d.TakeUpdate()); err != nil {
		t.Fatal(err)
	}
	if d.Text("t") != tr.EndContent {
		t.Fatal("replayed text differs from endContent")
	}
	if replica.Text("t") != tr.EndContent {
		t.Fatal("replica's text differs from endContent")
	}
	loaded := NewDoc(3)
	if err := loaded.ApplyUpdate(d.EncodeStateAsUpdate()); err != nil {
		t.Fatal(err)
	}
	if loaded.Text("t") != tr.EndContent {
		t.Fatal("loaded text differs from endContent")
	}
}

func TestTrace_ConcurrentReachesEndContentThroughForksAndMerges(t *testing.T) {
	tr := loadTrace(t, "testdata/clownschool.json.gz")
	if tr.Kind != "concurrent" {
		t.Fatalf("kind %q", tr.Kind)
	}
	_, final := replayTrace(t, tr)
	if final.Text("t") != tr.EndContent {
		t.Fatalf("merged text differs from endContent (%d vs %d code points)", final.Len("t"), len([]rune(tr.EndContent)))
	}
}

// replayTrace replays tr as interop/trace.mjs does with Yjs and returns the
// update each transaction made (nil for none) and the final document.
//
// A sequential trace is edited by one document under client id 1. In a
// concurrent trace a transaction edits a copy of its first parent's result
// merged with the other parents'; each agent edits under a client id until
// one of its transactions lands on a branch missing some of that id's
// history, then takes a new id, since an id must never carry two different
// histories. The final document merges the results nothing descends from.
func replayTrace(tb testing.TB, tr *trace) (updates [][]byte, final *Doc) {
	tb.Helper()
	edit := func(d *Doc, ps []patch) {
		d.taken, d.localDS = d.state(d.client), nil
		applyPatches(tb, d, "t", ps)
		updates = append(updates, d.TakeUpdate())
	}
	if tr.Kind != "concurrent" {
		d := NewDoc(1)
		if err := d.Insert("t", 0, tr.StartContent); err != nil {
			tb.Fatal(err)
		}
		for _, txn := range tr.Txns {
			edit(d, txn.Patches)
		}
		return updates, d
	}
	next := uint64(1)
	agentClient := map[int]uint64{}
	clientClock := map[uint64]uint64{}
	docs := map[int]*Doc{} // results of transactions that still have children to come
	pendingKids := map[int]int{}
	take := func(p int) *Doc {
		d := docs[p]
		pendingKids[p]--
		if pendingKids[p] == 0 {
			delete(docs, p)
			return d
		}
		return d.Clone(0)
	}
	var heads []*Doc
	for i, txn := range tr.Txns {
		var d *Doc
		if len(txn.Parents) == 0 {
			d = NewDoc(0)
		} else {
			d = take(txn.Parents[0])
			for _, p := range txn.Parents[1:] {
				other := docs[p]
				if err := d.ApplyUpdate(other.EncodeDiff(d.StateVector())); err != nil {
					tb.Fatal(err)
				}
				if pendingKids[p]--; pendingKids[p] == 0 {
					delete(docs, p)
				}
			}
		}
		c, ok := agentClient[txn.Agent]
		if !ok || d.state(c) != clientClock[c] {
			c = next
			next++
			agentClient[txn.Agent] = c
		}
		d.client = c
		edit(d, txn.Patches)
		clientClock[c] = d.state(c)
		if txn.NumChildren > 0 {
			docs[i] = d
			pendingKids[i] = txn.NumChildren
		} else {
			heads = append(heads, d)
		}
	}
	if len(docs) != 0 {
		tb.Fatalf("%d transactions still wait for children", len(docs))
	}
	final = NewDoc(0)
	for _, h := range heads {
		if err := final.ApplyUpdate(h.EncodeStateAsUpdate()); err != nil {
			tb.Fatal(err)
		}
	}
	return updates, final
}

// A replica that receives a trace's updates newest first, or shuffled with
// some twice, holds every struct of the original once the last one arrives:
// the same text and the same encoded state.
func TestTrace_UpdatesApplyInAnyOrder(t *testing.T) {
	for _, path := range []string{"testdata/seph-blog1.json.gz", "testdata/clownschool.json.gz"} {
		tr := loadTrace(t, path)
		updates, final := replayTrace(t, tr)
		want := final.EncodeStateAsUpdate()
		rng := rand.New(rand.NewPCG(3, 4))
		orders := []struct {
			name  string
			order func() []int
		}{
			{"newest first", func() []int {
				o := make([]int, len(updates))
				for i := range o {
					o[i] = len(o) - 1 - i
				}
				return o
			}},
			{"shuffled, some twice", func() []int {
				o := rng.Perm(len(updates))
				for range len(o) / 10 {
					o = append(o, rng.IntN(len(updates)))
				}
				rng.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
				return o
			}},
		}
		for _, o := range orders {
			t.Run(filepath.Base(path)+"/"+o.name, func(t *testing.T) {
				r := NewDoc(99)
				for _, i := range o.order() {
					if updates[i] == nil {
						continue
					}
					if err := r.ApplyUpdate(updates[i]); err != nil {
						t.Fatal(err)
					}
				}
				if r.Text("t") != tr.EndContent {
					t.Fatal("text differs from endContent")
				}
				if len(r.pending) != 0 || len(r.pendDS) != 0 {
					t.Fatalf("%d clients' structs and %d clients' deletions still pending", len(r.pending), len(r.pendDS))
				}
				if got := r.EncodeStateAsUpdate(); !bytes.Equal(got, want) {
					t.Fatalf("state differs: %d bytes, want %d", len(got), len(want))
				}
			})
		}
	}
}
