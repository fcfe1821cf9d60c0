package value

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// canonicalJSON re-encodes a JSON document with sorted object keys, no
// insignificant space and numbers exactly as written. A document already
// in that form (isCanonicalJSON: what a stored or received value holds) is
// returned as it is, without being decoded.
func canonicalJSON(raw []byte) ([]byte, error) {
	if isCanonicalJSON(raw) {
		return raw, nil
	}
	return reencodeJSON(raw)
}

// reencodeJSON is canonicalJSON by decoding raw and writing it again.
func reencodeJSON(raw []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	var b bytes.Buffer
	writeCanonical(&b, x)
	return b.Bytes(), nil
}

func writeCanonical(b *bytes.Buffer, x any) {
	switch t := x.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			writeCanonical(b, t[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case json.Number:
		b.WriteString(t.String())
	default:
		eb, _ := json.Marshal(t)
		b.Write(eb)
	}
}

// FromJSON converts JSON text into a Value the way AnkQL sees JSON: null is
// NULL, true/false are bool, integers are int, numbers with a fraction or an
// exponent are float, strings are string, and objects and arrays are json.
// An integer too large for int64 becomes a float; a number beyond float64's
// range (1e400) is refused, as it has no JSON form to go back to.
func FromJSON(raw []byte) (Value, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return Null, fmt.Errorf("value: invalid json: %w", err)
	}
	v := fromDecoded(x)
	if f, ok := v.AsFloat(); ok && math.IsInf(f, 0) {
		return Null, fmt.Errorf("value: invalid json: number %s is beyond the range of a float64", x)
	}
	return v, nil
}

func fromDecoded(x any) Value {
	switch t := x.(type) {
	case nil:
		return Null
	case bool:
		return Bool(t)
	case string:
		return String(t)
	case json.Number:
		return numberValue(t)
	default:
		var b bytes.Buffer
		writeCanonical(&b, t)
		return Value{k: KindJSON, s: b.String()}
	}
}

func numberValue(n json.Number) Value {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := n.Int64(); err == nil {
			return Int(i)
		}
	}
	f, _ := n.Float64()
	return Float(f)
}

// Path follows a path of object keys into a json value. The result is
// converted as FromJSON converts; a path that leads nowhere (a missing key, a
// non-object on the way, or v not json) is NULL. Array elements are reached
// with decimal indexes as keys ("tracks.0").
func (v Value) Path(path []string) Value {
	if len(path) == 0 {
		return v
	}
	if v.k != KindJSON {
		return Null
	}
	d := json.NewDecoder(strings.NewReader(v.s))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return Null
	}
	for _, p := range path {
		switch t := x.(type) {
		case map[string]any:
			e, ok := t[p]
			if !ok {
				return Null
			}
			x = e
		case []any:
			i, ok := arrayIndex(p)
			if !ok || i >= len(t) {
				return Null
			}
			x = t[i]
		default:
			return Null
		}
	}
	return fromDecoded(x)
}

func arrayIndex(p string) (int, bool) {
	if p == "" || len(p) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if len(p) > 1 && p[0] == '0' {
		return 0, false
	}
	return n, true
}

// MarshalJSON renders v as JSON: NULL as null, numbers as numbers, bytes as
// base64 strings, json as itself and refs as their id text.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.k {
	case KindJSON:
		return []byte(v.s), nil
	case KindFloat:
		return json.Marshal(v.float())
	case KindRef:
		e, _ := v.AsRef()
		return json.Marshal(e.String())
	}
	return json.Marshal(v.Interface())
}

// UnmarshalJSON reads v as FromJSON does.
func (v *Value) UnmarshalJSON(b []byte) error {
	x, err := FromJSON(b)
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// isCanonicalJSON reports whether raw is exactly what reencodeJSON makes
// of it. It scans a strict subset of that form — no space, no escape
// sequence, no character json.Marshal would escape ('<', '>', '&', control
// characters, U+2028, U+2029, invalid UTF-8), object keys in strictly
// ascending byte order, at most maxCanonicalDepth levels — and reports
// false for anything else, which reencodeJSON then decides (FuzzCanonicalJSON
// holds the two to the same answers).
func isCanonicalJSON(raw []byte) bool {
	s := canonScan{b: raw}
	return s.value(0) && s.off == len(raw)
}

// maxCanonicalDepth bounds the nesting isCanonicalJSON follows; deeper
// documents take the decoding path.
const maxCanonicalDepth = 64

type canonScan struct {
	b   []byte
	off int
}

func (s *canonScan) peek() byte {
	if s.off < len(s.b) {
		return s.b[s.off]
	}
	return 0
}

func (s *canonScan) value(depth int) bool {
	if depth > maxCanonicalDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"':
		_, ok := s.str()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

func (s *canonScan) literal(word string) bool {
	if !bytes.HasPrefix(s.b[s.off:], []byte(word)) {
		return false
	}
	s.off += len(word)
	return true
}

func (s *canonScan) object(depth int) bool {
	s.off++ // '{'
	if s.peek() == '}' {
		s.off++
		return true
	}
	var last []byte
	for first := true; ; first = false {
		if s.peek() != '"' {
			return false
		}
		key, ok := s.str()
		if !ok || !first && bytes.Compare(key, last) <= 0 {
			return false
		}
		last = key
		if s.peek() != ':' {
			return false
		}
		s.off++
		if !s.value(depth + 1) {
			return false
		}
		switch s.peek() {
		case ',':
			s.off++
		case '}':
			s.off++
			return true
		default:
			return false
		}
	}
}

func (s *canonScan) array(depth int) bool {
	s.off++ // '['
	if s.peek() == ']' {
		s.off++
		return true
	}
	for {
		if !s.value(depth + 1) {
			return false
		}
		switch s.peek() {
		case ',':
			s.off++
		case ']':
			s.off++
			return true
		default:
			return false
		}
	}
}

// str reads a string without escapes and returns its contents.
func (s *canonScan) str() ([]byte, bool) {
	s.off++ // '"'
	start := s.off
	for s.off < len(s.b) {
		c := s.b[s.off]
		switch {
		case c == '"':
			s.off++
			return s.b[start : s.off-1], true
		case c == '\\' || c < 0x20 || c == '<' || c == '>' || c == '&':
			return nil, false
		case c < utf8.RuneSelf:
			s.off++
		default:
			r, n := utf8.DecodeRune(s.b[s.off:])
			if r == utf8.RuneError && n == 1 || r == '\u2028' || r == '\u2029' {
				return nil, false
			}
			s.off += n
		}
	}
	return nil, false
}

// number reads a number in JSON's grammar (written back as it is).
func (s *canonScan) number() bool {
	digits := func() int {
		n := 0
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.off++
			n++
		}
		return n
	}
	if s.peek() == '-' {
		s.off++
	}
	switch c := s.peek(); {
	case c == '0':
		s.off++
	case c >= '1' && c <= '9':
		digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.off++
		if digits() == 0 {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.off++
		if c := s.peek(); c == '+' || c == '-' {
			s.off++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
