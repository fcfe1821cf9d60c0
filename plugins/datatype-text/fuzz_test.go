package text

import "testing"

// FuzzApplyUpdate feeds arbitrary bytes to the decoder: it must return an
// error or apply, never panic, and a document must still encode and reload.
func FuzzApplyUpdate(f *testing.F) {
	d := NewDoc(5)
	_ = d.Insert("t", 0, "héllo 😀")
	_ = d.Delete("t", 1, 2)
	f.Add(d.EncodeStateAsUpdate())
	f.Add([]byte{0, 0})
	f.Add([]byte{1, 1, 7, 0, 4, 1, 1, 't', 1, 'x', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDoc(9)
		if err := d.ApplyUpdate(b); err != nil {
			return
		}
		_ = d.Text("t")
		again := NewDoc(10)
		if err := again.ApplyUpdate(d.EncodeStateAsUpdate()); err != nil {
			t.Fatalf("own state does not reload: %v", err)
		}
	})
}
