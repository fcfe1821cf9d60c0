// Package id defines the identifiers of Ankurah: content-addressed entity and
// event ids (SHA-256) and ULIDs for things that are not content, such as
// requests, queries, transactions and nodes.
//
// The text form of every id is base64url without padding.
package id

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// Size is the length in bytes of an EventID or EntityID (a SHA-256 digest).
const Size = 32

// ErrInvalid is wrapped by every error that reports a malformed id.
var ErrInvalid = errors.New("id: invalid")

var b64 = base64.RawURLEncoding

// EventID names an event: the SHA-256 of its canonical encoding.
type EventID [Size]byte

// EntityID names an entity: the id of the entity's genesis event.
type EntityID [Size]byte

// String returns the base64url (unpadded) form of the id.
func (e EventID) String() string { return b64.EncodeToString(e[:]) }

// String returns the base64url (unpadded) form of the id.
func (e EntityID) String() string { return b64.EncodeToString(e[:]) }

// IsZero reports whether the id is all zero bytes (no id).
func (e EventID) IsZero() bool { return e == EventID{} }

// IsZero reports whether the id is all zero bytes (no id).
func (e EntityID) IsZero() bool { return e == EntityID{} }

// Compare orders ids by their bytes.
func (e EventID) Compare(o EventID) int { return bytes.Compare(e[:], o[:]) }

// Compare orders ids by their bytes.
func (e EntityID) Compare(o EntityID) int { return bytes.Compare(e[:], o[:]) }

// MarshalText implements encoding.TextMarshaler.
func (e EventID) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *EventID) UnmarshalText(b []byte) error {
	v, err := ParseEventID(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (e EntityID) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *EntityID) UnmarshalText(b []byte) error {
	v, err := ParseEntityID(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

func parse(kind, s string) ([Size]byte, error) {
	var out [Size]byte
	b, err := b64.DecodeString(s)
	if err != nil {
		return out, fmt.Errorf("%w %s %q: %v", ErrInvalid, kind, s, err)
	}
	if len(b) != Size {
		return out, fmt.Errorf("%w %s %q: %d bytes, want %d", ErrInvalid, kind, s, len(b), Size)
	}
	copy(out[:], b)
	return out, nil
}

// ParseEventID parses the base64url text form of an EventID.
func ParseEventID(s string) (EventID, error) {
	b, err := parse("event id", s)
	return EventID(b), err
}

// ParseEntityID parses the base64url text form of an EntityID.
func ParseEntityID(s string) (EntityID, error) {
	b, err := parse("entity id", s)
	return EntityID(b), err
}

// EntityFromBytes copies a 32-byte slice into an EntityID.
func EntityFromBytes(b []byte) (EntityID, error) {
	var e EntityID
	if len(b) != Size {
		return e, fmt.Errorf("%w entity id: %d bytes, want %d", ErrInvalid, len(b), Size)
	}
	copy(e[:], b)
	return e, nil
}

// EventFromBytes copies a 32-byte slice into an EventID.
func EventFromBytes(b []byte) (EventID, error) {
	var e EventID
	if len(b) != Size {
		return e, fmt.Errorf("%w event id: %d bytes, want %d", ErrInvalid, len(b), Size)
	}
	copy(e[:], b)
	return e, nil
}

// ULID names things that are not content: requests, queries, transactions, nodes.
type ULID = ulid.ULID

// ParseULID parses the canonical 26-character text form of a ULID.
func ParseULID(s string) (ULID, error) {
	u, err := ulid.ParseStrict(s)
	if err != nil {
		return u, fmt.Errorf("%w ulid %q: %v", ErrInvalid, s, err)
	}
	return u, nil
}

// decodeCBOR reads the CBOR encoding of an id: a byte string of exactly Size
// bytes. A decoder would otherwise truncate a longer string or zero-pad a
// shorter one into the array; the wire refuses both.
func decodeCBOR(kind string, dst *[Size]byte, data []byte) error {
	// A 32-byte definite-length byte string is always the header 0x58 0x20.
	if len(data) == Size+2 && data[0] == 0x58 && data[1] == Size {
		copy(dst[:], data[2:])
		return nil
	}
	n := -1
	if len(data) > 0 && data[0]>>5 == 2 { // major type 2: byte string
		switch ai := data[0] & 0x1f; {
		case ai < 24:
			n = int(ai)
		case ai == 24 && len(data) > 1:
			n = int(data[1])
		case ai == 25 && len(data) > 2:
			n = int(data[1])<<8 | int(data[2])
		}
	}
	if n < 0 {
		return fmt.Errorf("%w %s: not a byte string of %d bytes", ErrInvalid, kind, Size)
	}
	return fmt.Errorf("%w %s: %d bytes, want exactly %d", ErrInvalid, kind, n, Size)
}

// UnmarshalCBOR decodes an event id, refusing any length but Size.
func (e *EventID) UnmarshalCBOR(data []byte) error {
	return decodeCBOR("event id", (*[Size]byte)(e), data)
}

// UnmarshalCBOR decodes an entity id, refusing any length but Size.
func (e *EntityID) UnmarshalCBOR(data []byte) error {
	return decodeCBOR("entity id", (*[Size]byte)(e), data)
}
