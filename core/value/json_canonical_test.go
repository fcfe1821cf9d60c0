package value_test

import (
	"bytes"
	"testing"

	"github.com/ankurah/ankurah-go/core/value"
)

var canonicalJSONCases = []struct {
	in        string
	canonical bool // already in the form JSON stores
}{
	{`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, true},
	{`[]`, true},
	{`{}`, true},
	{`"plain text é ☃"`, true},
	{`-0.5e+10`, true},
	{`12345678901234567890123`, true},
	{`{"b":1,"a":2}`, false}, // keys out of order
	{`{"a":1,"a":2}`, false}, // duplicate key
	{`{ "a":1}`, false},      // space
	{`["\u00e9"]`, false},    // an escape
	{`"a<b"`, false},         // json.Marshal escapes '<'
	{"\"\u2028\"", false},    // and U+2028
	{"\"\xff\"", false},      // invalid UTF-8 (read as U+FFFD)
	{`[1,]`, false},          // invalid
	{`01`, false},            // invalid number
	{`{"a":1}x`, false},      // trailing data
	{`{"é":1,"z":2}`, false}, // 'z' < 'é' in bytes: out of order
	{`{"z":2,"é":1}`, true},
}

func TestIsCanonicalJSON(t *testing.T) {
	for _, c := range canonicalJSONCases {
		if got := value.IsCanonicalJSON([]byte(c.in)); got != c.canonical {
			t.Errorf("IsCanonicalJSON(%q) = %v, want %v", c.in, got, c.canonical)
		}
		checkCanonicalAgrees(t, []byte(c.in))
	}
}

// checkCanonicalAgrees holds the scan to the decoding path: a document the
// scan takes as canonical is one the decoder accepts and writes back
// byte for byte.
func checkCanonicalAgrees(t *testing.T, raw []byte) {
	t.Helper()
	if !value.IsCanonicalJSON(raw) {
		return
	}
	back, err := value.ReencodeJSON(raw)
	if err != nil {
		t.Fatalf("%q taken as canonical, but the decoder refuses it: %v", raw, err)
	}
	if !bytes.Equal(back, raw) {
		t.Fatalf("%q taken as canonical, but its canonical form is %q", raw, back)
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, c := range canonicalJSONCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkCanonicalAgrees(t, raw)
		// And what the decoding path writes is canonical by the scan's
		// measure whenever the scan can tell.
		if back, err := value.ReencodeJSON(raw); err == nil {
			if again, err := value.ReencodeJSON(back); err != nil || !bytes.Equal(again, back) {
				t.Fatalf("re-encoding %q is not stable: %q, %v", back, again, err)
			}
		}
	})
}

func BenchmarkJSON_Canonical(b *testing.B) {
	doc := []byte(`{"album":{"artist":"A","title":"B","year":1999},"score":4.5,"tags":["x","y","z"]}`)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := value.JSON(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=reencode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := value.ReencodeJSON(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
