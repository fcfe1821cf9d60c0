package postgres

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ankurah/ankurah-go/core/value"
)

// TestNumText_KeepsValueOrder checks that comparing the numeric texts as
// exact decimals gives value.Compare's answer, for ints and floats near the
// places where rounding could change it.
func TestNumText_KeepsValueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() value.Value {
		switch r.IntN(6) {
		case 0:
			return value.Int(r.Int64() >> r.IntN(64))
		case 1:
			return value.Int(1<<53 + r.Int64N(5) - 2)
		case 2:
			return value.Float(math.Nextafter(float64(int64(1)<<(50+r.IntN(14))), math.Inf(r.IntN(2)*2-1)))
		case 3:
			return value.Float(float64(r.IntN(2000)-1000) / 10)
		case 4:
			return value.Float(math.Ldexp(r.Float64(), r.IntN(140)-70))
		}
		return value.Int(int64(r.IntN(200) - 100))
	}
	rat := func(v value.Value) *big.Rat {
		x, ok := new(big.Rat).SetString(numText(v))
		if !ok {
			t.Fatalf("numText(%#v) = %q is not a decimal", v, numText(v))
		}
		return x
	}
	for range 20000 {
		a, b := pick(), pick()
		if n := numeric(a); !n.Valid || (n.InfinityModifier == 0 && new(big.Rat).Mul(new(big.Rat).SetInt(n.Int), pow10(n.Exp)).Cmp(rat(a)) != 0) {
			t.Fatalf("numeric(%#v) = %v, numText %q", a, n, numText(a))
		}
		if got, want := rat(a).Cmp(rat(b)), value.Compare(a, b); got != want {
			t.Fatalf("%#v vs %#v: numeric texts %q %q compare %d, values %d", a, b, numText(a), numText(b), got, want)
		}
	}
}

func TestIdent_IsInjectiveAndFits(t *testing.T) {
	names := []string{"a", "a#b", "a~b", "", "\x00", "x\x00", "x", "é", "\xff", string(make([]byte, 100)), "Ω" + string(make([]byte, 80))}
	seen := map[string]string{}
	for _, n := range names {
		for _, suffix := range []string{"", "#ev", "#s", "#jc", "#j"} {
			id := ident(n, suffix)
			if len(id) > maxIdent {
				t.Errorf("ident(%q, %q) = %q is %d bytes", n, suffix, id, len(id))
			}
			key := n + "\x01" + suffix
			if prev, ok := seen[id]; ok && prev != key {
				t.Errorf("ident(%q, %q) = %q, same as %q", n, suffix, id, prev)
			}
			seen[id] = key
		}
	}
}

func TestJSONBText_ShortcutAgreesWithRewrite(t *testing.T) {
	docs := []string{
		`{"a":1,"b":[true,false,null],"c":"x.e"}`, `{"n":-12,"s":"\\u0000"}`, `{"s":"a\u0000b"}`,
		`{"n":0.1}`, `{"n":1e5}`, `{"n":123456789012345678901}`, `[1.0,2E3]`, `"e"`, `5`, `{"k\u0000":1}`,
	}
	for _, d := range docs {
		canon := value.MustJSON(d).Raw()
		gotText, gotOK := jsonbText(canon)
		wantText, wantOK := jsonbRewrite(canon)
		if gotOK != wantOK || (gotOK && value.MustJSON(gotText) != value.MustJSON(wantText)) {
			t.Errorf("%s: jsonbText = %q %v, rewrite = %q %v", d, gotText, gotOK, wantText, wantOK)
		}
	}
}

func pow10(e int32) *big.Rat {
	r := big.NewRat(1, 1)
	ten := big.NewRat(10, 1)
	for ; e > 0; e-- {
		r.Mul(r, ten)
	}
	for ; e < 0; e++ {
		r.Quo(r, ten)
	}
	return r
}
