package query

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the lexical class of a token.
type tokKind int

const (
	tEOF     tokKind = iota
	tIdent           // bare identifier; text is the name
	tQIdent          // double-quoted identifier; text is the unquoted name
	tKeyword         // text is the keyword in upper case
	tString          // single-quoted string; text is the unquoted value
	tInt             // text is the digits (with a leading '-' when negative)
	tFloat           // text is the number as written
	tParam           // ?
	tLParen
	tRParen
	tComma
	tDot
	tOp // a comparison operator: = != <> < <= > >=
	// tTyped is a typed literal, x'<hex>', json'<text>' or ref'<id>' (the
	// prefix written right before the quote, in any case): text is the
	// unquoted content, prefix the lower-case prefix.
	tTyped
)

// typedPrefixes are the prefixes of typed literals: the kinds a value of
// which has no plain literal (bytes, json, entity refs).
var typedPrefixes = map[string]bool{"x": true, "json": true, "ref": true}

// keywords of AnkQL, matched ASCII-case-insensitively. A property with one of
// these names must be written double-quoted.
var keywords = map[string]string{}

func init() {
	for _, k := range []string{"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "TRUE", "FALSE", "ORDER", "BY", "ASC", "DESC", "LIMIT"} {
		keywords[k] = k
	}
}

// token is one lexeme. pos is the 0-based byte offset of its first byte.
type token struct {
	kind   tokKind
	text   string
	prefix string // of a tTyped token
	raw    string // the source text of the token, for error messages
	pos    int
}

// describe renders a token for an error message.
func (t token) describe() string {
	if t.kind == tEOF {
		return "end of query"
	}
	raw := t.raw
	if len(raw) > 40 {
		raw = raw[:40] + "…"
	}
	return strconv.Quote(raw)
}

// lexer splits AnkQL text into tokens, one at a time.
type lexer struct {
	src string
	pos int
}

func syntaxErr(pos int, format string, args ...any) error {
	return fmt.Errorf("%w at %d: %s", ErrSyntax, pos+1, fmt.Sprintf(format, args...))
}

func isIdentStart(r rune) bool { return unicode.IsLetter(r) }

func isIdentPart(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// keyword returns the upper-case keyword s spells (ASCII case folding only, so
// that no non-ASCII letter can turn an identifier into a keyword), or "".
func keyword(s string) string {
	if len(s) > 5 {
		return ""
	}
	var b [5]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		b[i] = c
	}
	return keywords[string(b[:len(s)])]
}

// bareIdent reports whether name can be written without double quotes.
func bareIdent(name string) bool {
	if name == "" || !utf8.ValidString(name) || keyword(name) != "" {
		return false
	}
	for i, r := range name {
		if i == 0 && !isIdentStart(r) || !isIdentPart(r) {
			return false
		}
	}
	return true
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			l.pos++
			continue
		}
		break
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	tok := func(k tokKind, n int) (token, error) {
		l.pos += n
		raw := l.src[start:l.pos]
		return token{kind: k, text: raw, raw: raw, pos: start}, nil
	}
	c := l.src[start]
	switch c {
	case '(':
		return tok(tLParen, 1)
	case ')':
		return tok(tRParen, 1)
	case ',':
		return tok(tComma, 1)
	case '.':
		return tok(tDot, 1)
	case '?':
		return tok(tParam, 1)
	case '=':
		return tok(tOp, 1)
	case '!':
		if strings.HasPrefix(l.src[start:], "!=") {
			return tok(tOp, 2)
		}
	case '<':
		if strings.HasPrefix(l.src[start:], "<=") || strings.HasPrefix(l.src[start:], "<>") {
			return tok(tOp, 2)
		}
		return tok(tOp, 1)
	case '>':
		if strings.HasPrefix(l.src[start:], ">=") {
			return tok(tOp, 2)
		}
		return tok(tOp, 1)
	case '\'', '"':
		return l.quoted(c)
	}
	if c == '-' || c >= '0' && c <= '9' {
		return l.number()
	}
	r, n := utf8.DecodeRuneInString(l.src[start:])
	if r != utf8.RuneError && isIdentStart(r) {
		l.pos += n
		for l.pos < len(l.src) {
			r, n := utf8.DecodeRuneInString(l.src[l.pos:])
			if r == utf8.RuneError || !isIdentPart(r) {
				break
			}
			l.pos += n
		}
		raw := l.src[start:l.pos]
		if lower := strings.ToLower(raw); typedPrefixes[lower] && l.pos < len(l.src) && l.src[l.pos] == '\'' {
			q, err := l.quoted('\'')
			if err != nil {
				return token{}, err
			}
			return token{kind: tTyped, text: q.text, prefix: lower, raw: l.src[start:l.pos], pos: start}, nil
		}
		if kw := keyword(raw); kw != "" {
			return token{kind: tKeyword, text: kw, raw: raw, pos: start}, nil
		}
		return token{kind: tIdent, text: raw, raw: raw, pos: start}, nil
	}
	if r == utf8.RuneError && n <= 1 {
		return token{}, syntaxErr(start, "invalid UTF-8 byte %#x", c)
	}
	return token{}, syntaxErr(start, "unexpected character %q", r)
}

// quoted lexes a 'string' or a "quoted identifier"; a doubled quote inside
// stands for one quote.
func (l *lexer) quoted(q byte) (token, error) {
	start := l.pos
	var b strings.Builder
	i := start + 1
	for {
		j := strings.IndexByte(l.src[i:], q)
		if j < 0 {
			what := "string"
			if q == '"' {
				what = "quoted identifier"
			}
			return token{}, syntaxErr(start, "unterminated %s", what)
		}
		b.WriteString(l.src[i : i+j])
		i += j + 1
		if i < len(l.src) && l.src[i] == q {
			b.WriteByte(q)
			i++
			continue
		}
		break
	}
	l.pos = i
	k := tString
	if q == '"' {
		k = tQIdent
	}
	return token{kind: k, text: b.String(), raw: l.src[start:i], pos: start}, nil
}

// number lexes -?digits[.digits][(e|E)[+-]digits]; a fraction or exponent
// makes it a float.
func (l *lexer) number() (token, error) {
	start := l.pos
	i := start
	if l.src[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(l.src) && l.src[i] >= '0' && l.src[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return token{}, syntaxErr(start, "unexpected character '-' (a minus sign must start a number)")
	}
	kind := tInt
	if i+1 < len(l.src) && l.src[i] == '.' && l.src[i+1] >= '0' && l.src[i+1] <= '9' {
		i++
		digits()
		kind = tFloat
	}
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		j := i + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		if j < len(l.src) && l.src[j] >= '0' && l.src[j] <= '9' {
			i = j
			digits()
			kind = tFloat
		}
	}
	l.pos = i
	raw := l.src[start:i]
	return token{kind: kind, text: raw, raw: raw, pos: start}, nil
}
