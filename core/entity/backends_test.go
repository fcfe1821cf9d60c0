package entity_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
)

func TestBackends_SetKeepsTheEncodingsOrder(t *testing.T) {
	var bs entity.Backends
	for _, name := range []string{"text", "lww", "attribution/10", "attribution/9", "a", "lww"} {
		bs.Set(name, []byte(name))
	}
	want := []string{"a", "lww", "text", "attribution/9", "attribution/10"}
	if got := bs.Names(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("names %v, want %v (shorter first, then bytewise)", got, want)
	}
	if err := bs.Validate(); err != nil {
		t.Fatal(err)
	}
	if b, ok := bs.Get("lww"); !ok || string(b) != "lww" {
		t.Fatalf("Get(lww) = %q, %v", b, ok)
	}
	if bs.Has("nope") || bs.StateOf("nope") != nil {
		t.Fatal("a missing backend is reported present")
	}
	bs.Delete("text")
	if bs.Has("text") || len(bs) != 4 {
		t.Fatalf("after Delete: %v", bs.Names())
	}
	c := bs.Clone()
	c.StateOf("lww")[0] = 'X'
	if bs.StateOf("lww")[0] != 'l' {
		t.Fatal("Clone shares the states' bytes")
	}
	if entity.Backends(nil).Clone() != nil || entity.BackendsOf(nil) != nil {
		t.Fatal("nil does not stay nil")
	}
}

func TestBackends_ValidateRefusesDisorderAndDuplicates(t *testing.T) {
	for name, bs := range map[string]entity.Backends{
		"out of order": {{Name: "text"}, {Name: "lww"}},
		"twice":        {{Name: "lww"}, {Name: "lww"}},
	} {
		err := bs.Validate()
		if !errors.Is(err, entity.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
		s := entity.State{ID: id.EntityID{1}, Collection: "c", Backends: bs}
		if _, err := s.Encode(); !errors.Is(err, entity.ErrInvalid) {
			t.Errorf("%s: Encode = %v, want ErrInvalid", name, err)
		}
	}
}

func TestBackends_EncodeAsAMap(t *testing.T) {
	bs := entity.BackendsOf(map[string][]byte{"lww": {1}, "text": nil, "a": {}})
	b, err := cbor.Marshal(bs)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string][]byte
	if err := cbor.Unmarshal(b, &m); err != nil || len(m) != 3 || !bytes.Equal(m["lww"], []byte{1}) {
		t.Fatalf("decoded as a map: %v, %v", m, err)
	}
	var back entity.Backends
	if err := back.UnmarshalCBOR(b); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back.Names()) != "[a lww text]" {
		t.Fatalf("round trip: %v", back.Names())
	}
	dup := []byte{0xa2, 0x61, 'a', 0x40, 0x61, 'a', 0x40} // {"a": h'', "a": h''}
	if err := back.UnmarshalCBOR(dup); err == nil {
		t.Fatal("a duplicate name decoded")
	}
}

func TestDecode_BackendsOutOfOrderGoTheGenericWay(t *testing.T) {
	s := entity.State{ID: id.EntityID{7}, Collection: "c", Head: nil, Backends: entity.BackendsOf(map[string][]byte{"lww": {1}, "text": {2}})}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Swap the two backends in the encoding: {"lww": h'01', "text": h'02'}
	// becomes {"text": h'02', "lww": h'01'}, which only the generic
	// decoder reads (and sorts).
	lww := []byte{0x63, 'l', 'w', 'w', 0x41, 1}
	text := []byte{0x64, 't', 'e', 'x', 't', 0x41, 2}
	i := bytes.Index(b, lww)
	if i < 0 {
		t.Fatalf("encoding %x lacks the lww pair", b)
	}
	swapped := append(append(append(append([]byte{}, b[:i]...), text...), lww...), b[i+len(lww)+len(text):]...)
	if _, ok := entity.DecodeFast(swapped); ok {
		t.Fatal("the fast decoder read backends out of order")
	}
	got, err := entity.Decode(swapped)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Backends.Names()) != "[lww text]" || got.Backends.StateOf("text")[0] != 2 {
		t.Fatalf("decoded backends %v", got.Backends)
	}
}

// A state's backends, built in any order, are kept in their encoding's.
func ExampleBackends() {
	var bs entity.Backends
	bs.Set("text", []byte{0x01})
	bs.Set("lww", []byte{0xa0})
	fmt.Println(bs.Names(), bs.Has("lww"), len(bs.StateOf("text")))
	// Output: [lww text] true 1
}

func TestBackends_AddingToACopyLeavesTheOriginal(t *testing.T) {
	var bs entity.Backends
	for _, name := range []string{"c", "a", "e"} { // room to spare after three Sets
		bs.Set(name, []byte(name))
	}
	st := entity.State{Backends: bs}
	cp := st
	cp.Backends.Set("b", []byte("b"))
	cp.Backends.Delete("a")
	if got := fmt.Sprint(st.Backends.Names()); got != "[a c e]" {
		t.Fatalf("the original's backends became %s after its copy changed", got)
	}
	if got := fmt.Sprint(cp.Backends.Names()); got != "[b c e]" {
		t.Fatalf("the copy's backends are %s", got)
	}
}
