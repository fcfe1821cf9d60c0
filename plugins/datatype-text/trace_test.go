package text

import (
	"compress/gzip"
	"encoding/json"
	"os"
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
	// Each agent edits under a client id until one of its transactions lands
	// on a branch missing some of that id's history; then it takes a new id,
	// since an id must never carry two different histories.
	next := uint64(1)
	agentClient := map[int]uint64{}
	clientClock := map[uint64]uint64{}
	docs := map[int]*Doc{} // results of transactions that still have children to come
	pendingKids := map[int]int{}
	clone := func(d *Doc) *Doc { return d.Clone(0) }
	take := func(p int) *Doc {
		d := docs[p]
		pendingKids[p]--
		if pendingKids[p] == 0 {
			delete(docs, p)
			return d
		}
		return clone(d)
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
					t.Fatal(err)
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
		applyPatches(t, d, "t", txn.Patches)
		clientClock[c] = d.state(c)
		if txn.NumChildren > 0 {
			docs[i] = d
			pendingKids[i] = txn.NumChildren
		} else {
			heads = append(heads, d)
		}
	}
	if len(docs) != 0 {
		t.Fatalf("%d transactions still wait for children", len(docs))
	}
	final := NewDoc(0)
	for _, h := range heads {
		if err := final.ApplyUpdate(h.EncodeStateAsUpdate()); err != nil {
			t.Fatal(err)
		}
	}
	if final.Text("t") != tr.EndContent {
		t.Fatalf("merged text differs from endContent (%d vs %d code points)", final.Len("t"), len([]rune(tr.EndContent)))
	}
}
