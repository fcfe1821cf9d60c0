package query

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// ErrCursor is wrapped by every error about a pagination cursor: one that
// is not base64url, not of a known version, malformed, or whose key count
// does not match the ORDER BY it is used with.
var ErrCursor = errors.New("query: invalid cursor")

// CursorVersion is the version byte every encoded cursor starts with.
const CursorVersion = 1

// maxCursorLen bounds an encoded cursor's length (it is untrusted input).
const maxCursorLen = 64 << 10

var (
	cursorEnc = func() cbor.EncMode { m, _ := cbor.CoreDetEncOptions().EncMode(); return m }()
	cursorDec = func() cbor.DecMode {
		m, _ := cbor.DecOptions{MaxNestedLevels: 6, MaxArrayElements: 1024}.DecMode()
		return m
	}()
)

// Cursor is a position in an ordered result: the ORDER BY key values of a
// row and its entity id. The rows after it are those CompareRows orders
// after that row, so a page continued from a cursor is stable under inserts
// and deletes elsewhere in the result. See docs/pagination.md.
type Cursor struct {
	// Keys holds one value per ORDER BY term, in order.
	Keys []value.Value
	// ID is the row's entity id (the final tie-break).
	ID id.EntityID
}

// CursorAt returns the cursor of a row under an ORDER BY list.
func CursorAt(order []Order, values value.Fields, eid id.EntityID) Cursor {
	keys := make([]value.Value, len(order))
	for i, o := range order {
		keys[i] = Resolve(values, o.Path)
	}
	return Cursor{Keys: keys, ID: eid}
}

type cursorWire struct {
	_    struct{} `cbor:",toarray"`
	Keys []value.Value
	ID   []byte
}

// Encode returns the cursor's opaque text form: base64url (no padding) of a
// version byte and the CBOR array [keys, id].
func (c Cursor) Encode() string {
	b, err := cursorEnc.Marshal(cursorWire{Keys: c.Keys, ID: c.ID[:]})
	if err != nil {
		// Values always marshal; a failure here is a bug.
		panic(fmt.Sprintf("query: encoding a cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(append([]byte{CursorVersion}, b...))
}

// DecodeCursor parses an encoded cursor for use with order. Anything but a
// well-formed cursor of this version with one key per ORDER BY term is an
// error wrapping ErrCursor.
func DecodeCursor(s string, order []Order) (*Cursor, error) {
	if len(s) > maxCursorLen {
		return nil, fmt.Errorf("%w: %d characters (at most %d)", ErrCursor, len(s), maxCursorLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url: %v", ErrCursor, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCursor)
	}
	if raw[0] != CursorVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads %d)", ErrCursor, raw[0], CursorVersion)
	}
	var w cursorWire
	if err := cursorDec.Unmarshal(raw[1:], &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCursor, err)
	}
	if len(w.ID) != id.Size {
		return nil, fmt.Errorf("%w: entity id of %d bytes (want %d)", ErrCursor, len(w.ID), id.Size)
	}
	if len(w.Keys) != len(order) {
		return nil, fmt.Errorf("%w: %d order keys for an ORDER BY of %d terms", ErrCursor, len(w.Keys), len(order))
	}
	c := &Cursor{Keys: w.Keys}
	copy(c.ID[:], w.ID)
	return c, nil
}

// Before reports whether the cursor's row comes before a row under order,
// that is whether the row belongs to the results after the cursor. It sorts
// exactly as CompareRows does.
func (c *Cursor) Before(order []Order, values value.Fields, eid id.EntityID) bool {
	for i, o := range order {
		cmp := value.Compare(c.Keys[i], Resolve(values, o.Path))
		if o.Desc {
			cmp = -cmp
		}
		if cmp != 0 {
			return cmp < 0
		}
	}
	return bytes.Compare(c.ID[:], eid[:]) < 0
}

// Seek returns a predicate matching at least every row after the cursor
// (more when the first key ties), for an engine to turn into a seek on an
// index of the first ORDER BY key; nil when it would narrow nothing. The
// exact bound is Before, applied to what the engine returns. Rows whose
// first key is of another kind than the cursor's are kept when that kind
// sorts after it, as ORDER BY sorts kinds (NULL, bool, number, string,
// bytes, JSON, ref; NULLs last under DESC). Every literal in it is a real
// value of its kind, so the predicate crosses every boundary a selection
// does (CBOR, CEL, SQL).
func (c *Cursor) Seek(order []Order) Expr {
	if len(order) == 0 {
		return nil
	}
	o, v := order[0], c.Keys[0]
	p := o.Path
	var terms []Expr
	if !o.Desc {
		if v.IsNull() {
			return nil
		}
		terms = append(terms, &Comparison{Path: p, Op: Ge, Value: Lit(v)})
		for _, k := range orderedKinds[kindIndex(v.Kind())+1:] {
			terms = append(terms, kindTerms(p, k)...)
		}
	} else {
		terms = append(terms, &IsNull{Path: p})
		if !v.IsNull() {
			terms = append(terms, &Comparison{Path: p, Op: Le, Value: Lit(v)})
			for _, k := range orderedKinds[:kindIndex(v.Kind())] {
				terms = append(terms, kindTerms(p, k)...)
			}
		}
	}
	if len(terms) == 1 {
		return terms[0]
	}
	return &Or{Terms: terms}
}

// orderedKinds are the non-NULL kinds in the order ORDER BY sorts them.
var orderedKinds = []value.Kind{value.KindBool, value.KindInt, value.KindString, value.KindBytes, value.KindJSON, value.KindRef}

// kindIndex is the place of a non-NULL kind in orderedKinds (int and float
// share one).
func kindIndex(k value.Kind) int {
	if k == value.KindFloat {
		k = value.KindInt
	}
	return slices.Index(orderedKinds, k)
}

// jsonPivot is a JSON value the JSON kind's terms compare with: every JSON
// value is either below it or not.
var jsonPivot = value.MustJSON("null")

// kindTerms returns comparisons that together match exactly the values of
// kind k at p: `p >= least` where the kind has a least value, else
// `p < pivot OR p >= pivot` (JSON).
func kindTerms(p Path, k value.Kind) []Expr {
	if least, ok := value.Least(k); ok {
		return []Expr{&Comparison{Path: p, Op: Ge, Value: Lit(least)}}
	}
	return []Expr{
		&Comparison{Path: p, Op: Lt, Value: Lit(jsonPivot)},
		&Comparison{Path: p, Op: Ge, Value: Lit(jsonPivot)},
	}
}
