package postgres

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ankurah/ankurah-go/core/value"
)

// colKind is one of the typed columns a property can have. A property gets
// the column of a kind when a value of that kind is first stored in it.
type colKind int

// The column kinds, in the order of value.Compare across kinds (kJSON, the
// jsonb copy used for path queries, has no place in that order).
const (
	kBool     colKind = iota // boolean
	kNum                     // numeric: int and float, see numText
	kString                  // text COLLATE "C"
	kBytes                   // bytea
	kJSONText                // text COLLATE "C": canonical JSON text, for = and ORDER BY
	kRef                     // bytea: referenced entity id
	kJSON                    // jsonb: the JSON for path queries, see jsonbText
	numKinds
)

// orderKinds are the kinds that hold a property's whole value, in the
// order of value.Compare across kinds.
var orderKinds = []colKind{kBool, kNum, kString, kBytes, kJSONText, kRef}

var kindSuffix = [numKinds]string{"#b", "#n", "#s", "#x", "#jc", "#r", "#j"}

var kindType = [numKinds]string{
	"boolean", "numeric", `text COLLATE "C"`, "bytea", `text COLLATE "C"`, "bytea", "jsonb",
}

// column returns the column name of a property's kind.
func column(prop string, k colKind) string { return ident(prop, kindSuffix[k]) }

// kindOf returns the column kind holding a value's kind, or -1 for NULL.
func kindOf(v value.Value) colKind {
	switch v.Kind() {
	case value.KindBool:
		return kBool
	case value.KindInt, value.KindFloat:
		return kNum
	case value.KindString:
		return kString
	case value.KindBytes:
		return kBytes
	case value.KindJSON:
		return kJSONText
	case value.KindRef:
		return kRef
	}
	return -1
}

// textSafe reports whether s can be a PostgreSQL text value (valid UTF-8 in a
// UTF8 database, no NUL); only then do text comparisons match Go's.
func textSafe(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

var two53 = math.Ldexp(1, 53)

// numText maps an int or float to the numeric text stored and compared in
// SQL. Ints are exact. A float below 2^53 in magnitude is its shortest
// round-trip decimal: that mapping is strictly increasing and no integer
// lies strictly between a float and it, so every comparison (float-float and
// int-float) keeps value.Compare's answer. A larger float is an integer and
// is written exactly; infinities are numeric's ±Infinity.
func numText(v value.Value) string {
	if i, ok := v.AsInt(); ok {
		return strconv.FormatInt(i, 10)
	}
	f, _ := v.AsFloat()
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.Abs(f) < two53:
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return new(big.Float).SetFloat64(f).Text('f', 0)
}

// jsonbText returns the JSON stored in the jsonb column for path queries:
// the document with every number rewritten by numText (as AnkQL reads it:
// int when written without fraction or exponent and in range, else float).
// ok is false when jsonb cannot hold the document exactly (a NUL in a string
// or key, a number that overflows to infinity); the row is then left to the
// residual filter.
func jsonbText(canonical string) (string, bool) {
	if ok, decided := jsonbAsIs(canonical); decided {
		return canonical, ok
	}
	return jsonbRewrite(canonical)
}

// jsonbRewrite is jsonbText by parsing and rewriting the document.
func jsonbRewrite(canonical string) (string, bool) {
	d := json.NewDecoder(strings.NewReader(canonical))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return "", false
	}
	var b bytes.Buffer
	if !writeJSONB(&b, x) {
		return "", false
	}
	return b.String(), true
}

func writeJSONB(b *bytes.Buffer, x any) bool {
	switch t := x.(type) {
	case map[string]any:
		b.WriteByte('{')
		first := true
		for k, e := range t {
			if strings.IndexByte(k, 0) >= 0 {
				return false
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			if !writeJSONB(b, e) {
				return false
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			if !writeJSONB(b, e) {
				return false
			}
		}
		b.WriteByte(']')
	case json.Number:
		v, err := value.FromJSON([]byte(t))
		if err != nil {
			return false
		}
		if f, ok := v.AsFloat(); ok && math.IsInf(f, 0) {
			return false
		}
		b.WriteString(numText(v))
	case string:
		if strings.IndexByte(t, 0) >= 0 {
			return false
		}
		sb, _ := json.Marshal(t)
		b.Write(sb)
	default:
		eb, _ := json.Marshal(t)
		b.Write(eb)
	}
	return true
}

// kindOfColumn returns the kind of a column made by column().
func kindOfColumn(col string) colKind {
	for k := colKind(0); k < numKinds; k++ {
		if k != kJSON && strings.HasSuffix(col, kindSuffix[k]) {
			return k
		}
	}
	return kJSON // "#j": checked last, "#jc" ends otherwise
}

// jsonbAsIs decides without parsing the common cases of jsonbText: a
// document whose numbers are all short integers (which numText writes as
// they are) and whose strings hold no \u0000 is stored as it is; one with a
// \u0000 cannot be. decided is false when the numbers need rewriting.
func jsonbAsIs(s string) (ok, decided bool) {
	inString, escaped, digits := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
				if c == 'u' && strings.HasPrefix(s[i+1:], "0000") {
					return false, true
				}
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString, digits = true, 0
		case c >= '0' && c <= '9':
			digits++
			if digits > 18 {
				return false, false
			}
		case c == '.' || c == 'e' || c == 'E':
			if digits > 0 {
				return false, false
			}
		default:
			digits = 0
		}
	}
	return true, true
}

// numeric is numText as a pgtype.Numeric, for COPY's binary format.
func numeric(v value.Value) pgtype.Numeric {
	if i, ok := v.AsInt(); ok {
		return pgtype.Numeric{Int: big.NewInt(i), Valid: true}
	}
	f, _ := v.AsFloat()
	switch {
	case math.IsInf(f, 1):
		return pgtype.Numeric{InfinityModifier: pgtype.Infinity, Valid: true}
	case math.IsInf(f, -1):
		return pgtype.Numeric{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	case math.Abs(f) >= two53:
		i, _ := new(big.Float).SetFloat64(f).Int(nil)
		return pgtype.Numeric{Int: i, Valid: true}
	}
	// The shortest round-trip digits d.ddd and exponent, as numText writes them.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	intPart, frac, _ := strings.Cut(mant, ".")
	digits, _ := new(big.Int).SetString(intPart+frac, 10)
	return pgtype.Numeric{Int: digits, Exp: int32(exp - len(frac)), Valid: true}
}
