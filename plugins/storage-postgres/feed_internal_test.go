package postgres

import (
	"errors"
	"testing"

	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/storage"
)

func TestDecodeFeed_RoundTripAndRefusals(t *testing.T) {
	s := entity.State{Collection: "c", Head: nil}
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	row := encodeFeed([][]byte{enc, enc})
	got, err := decodeFeed(row)
	if err != nil || len(got) != 2 || got[1].Collection != "c" {
		t.Fatalf("decodeFeed = %v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"other format":   append([]byte{9}, row[1:]...),
		"truncated":      row[:len(row)-1],
		"trailing bytes": append(append([]byte(nil), row...), 0),
		"huge count":     {feedPayloadFormat, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"no collection":  encodeFeed([][]byte{mustEncode(t, entity.State{})}),
	} {
		if _, err := decodeFeed(bad); !errors.Is(err, storage.ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func mustEncode(t *testing.T, s entity.State) []byte {
	t.Helper()
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeFeed(f *testing.F) {
	s := entity.State{Collection: "c"}
	enc, _ := s.Encode()
	f.Add(encodeFeed([][]byte{enc}))
	f.Add([]byte{feedPayloadFormat, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		changes, err := decodeFeed(b)
		if err != nil {
			return
		}
		states := make([][]byte, len(changes))
		for i, c := range changes {
			if states[i], err = c.State.Encode(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := decodeFeed(encodeFeed(states)); err != nil {
			t.Fatalf("a decoded row does not decode once encoded again: %v", err)
		}
	})
}
