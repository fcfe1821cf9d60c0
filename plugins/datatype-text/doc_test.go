package text

import (
	"errors"
	"testing"
)

func TestDoc_LocalEditsCountCodePoints(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *Doc) error
		want string
	}{
		{"insert into empty", func(d *Doc) error { return d.Insert("t", 0, "hello") }, "hello"},
		{"insert in the middle", func(d *Doc) error {
			return errors.Join(d.Insert("t", 0, "hllo"), d.Insert("t", 1, "e"))
		}, "hello"},
		{"emoji count as one", func(d *Doc) error {
			return errors.Join(d.Insert("t", 0, "a😀b"), d.Insert("t", 2, "X"), d.Delete("t", 1, 1))
		}, "aXb"},
		{"delete across items", func(d *Doc) error {
			return errors.Join(d.Insert("t", 0, "abc"), d.Insert("t", 3, "def"), d.Insert("t", 0, "xyz"), d.Delete("t", 2, 5))
		}, "xyef"},
		{"typing after emoji", func(d *Doc) error {
			return errors.Join(d.Insert("t", 0, "🎉"), d.Insert("t", 1, "🎈"), d.Insert("t", 1, "é"))
		}, "🎉é🎈"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDoc(1)
			if err := tt.edit(d); err != nil {
				t.Fatal(err)
			}
			if got := d.Text("t"); got != tt.want {
				t.Fatalf("text = %q, want %q", got, tt.want)
			}
			if d.Len("t") != len([]rune(tt.want)) {
				t.Fatalf("len = %d, want %d", d.Len("t"), len([]rune(tt.want)))
			}
			// The whole state loads into a new doc with the same text and state vector.
			e := NewDoc(2)
			if err := e.ApplyUpdate(d.EncodeStateAsUpdate()); err != nil {
				t.Fatal(err)
			}
			if got := e.Text("t"); got != tt.want {
				t.Fatalf("loaded text = %q, want %q", got, tt.want)
			}
			if string(e.EncodeStateAsUpdate()) != string(d.EncodeStateAsUpdate()) {
				t.Fatal("loaded state encodes differently")
			}
		})
	}
}

func TestDoc_OutOfRange(t *testing.T) {
	d := NewDoc(1)
	if err := d.Insert("t", 1, "x"); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("insert past end: %v", err)
	}
	if err := d.Delete("t", 0, 1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("delete past end: %v", err)
	}
}

func TestDoc_ConcurrentInsertsConverge(t *testing.T) {
	a, b := NewDoc(1), NewDoc(2)
	_ = a.Insert("t", 0, "base")
	if err := b.ApplyUpdate(a.TakeUpdate()); err != nil {
		t.Fatal(err)
	}
	_ = a.Insert("t", 2, "AA😀")
	_ = b.Insert("t", 2, "BB")
	_ = b.Delete("t", 0, 1)
	ua, ub := a.TakeUpdate(), b.TakeUpdate()
	if err := a.ApplyUpdate(ub); err != nil {
		t.Fatal(err)
	}
	if err := b.ApplyUpdate(ua); err != nil {
		t.Fatal(err)
	}
	if a.Text("t") != b.Text("t") {
		t.Fatalf("diverged: %q vs %q", a.Text("t"), b.Text("t"))
	}
	if string(a.EncodeStateAsUpdate()) != string(b.EncodeStateAsUpdate()) {
		t.Fatal("states encode differently")
	}
	// Out of order: the second update first is kept pending.
	c := NewDoc(3)
	if err := c.ApplyUpdate(ub); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyUpdate(a.EncodeStateAsUpdate()); err != nil {
		t.Fatal(err)
	}
	if c.Text("t") != a.Text("t") {
		t.Fatalf("out of order: %q vs %q", c.Text("t"), a.Text("t"))
	}
}

func TestDoc_CloneIsIndependent(t *testing.T) {
	d := NewDoc(1)
	_ = d.Insert("t", 0, "abc")
	_ = d.Insert("t", 3, "def") // appended to the same item
	_ = d.Delete("t", 1, 1)
	c := d.Clone(2)
	if string(c.EncodeStateAsUpdate()) != string(d.EncodeStateAsUpdate()) {
		t.Fatal("clone encodes differently")
	}
	if c.TakeUpdate() != nil {
		t.Fatal("clone has local edits")
	}
	// Both type at the end of the same run: neither sees the other's text.
	_ = d.Insert("t", 5, "XY")
	_ = c.Insert("t", 5, "Z")
	_ = c.Insert("t", 6, "W")
	if d.Text("t") != "acdefXY" || c.Text("t") != "acdefZW" {
		t.Fatalf("not independent: %q / %q", d.Text("t"), c.Text("t"))
	}
	if err := d.ApplyUpdate(c.TakeUpdate()); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyUpdate(d.TakeUpdate()); err != nil {
		t.Fatal(err)
	}
	if d.Text("t") != c.Text("t") {
		t.Fatalf("diverged: %q / %q", d.Text("t"), c.Text("t"))
	}
}

func TestDoc_PendingStructsSurviveStateRoundTrip(t *testing.T) {
	src := NewDoc(1)
	_ = src.Insert("t", 0, "one ")
	u1 := src.TakeUpdate()
	_ = src.Insert("t", 4, "two ")
	u2 := src.TakeUpdate()
	_ = src.Insert("t", 8, "three")
	_ = src.Delete("t", 0, 2)
	u3 := src.TakeUpdate()

	d := NewDoc(2)
	for _, u := range [][]byte{u3, u1} { // u3 waits for u2
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	// The deletion applies to what is there; the insertion waits.
	if got := d.Text("t"); got != "e " {
		t.Fatalf("before the gap is filled: %q", got)
	}
	loaded := NewDoc(3)
	if err := loaded.ApplyUpdate(d.EncodeStateAsUpdate()); err != nil {
		t.Fatal(err)
	}
	if err := loaded.ApplyUpdate(u2); err != nil {
		t.Fatal(err)
	}
	if got, want := loaded.Text("t"), src.Text("t"); got != want {
		t.Fatalf("after the gap is filled: %q, want %q", got, want)
	}
	if string(loaded.EncodeStateAsUpdate()) != string(src.EncodeStateAsUpdate()) {
		t.Fatal("state differs from the source's")
	}
}
