package query

import (
	"strings"
	"unicode/utf8"
)

// likeMatch reports whether s matches the SQL LIKE pattern: % matches any
// sequence of characters, _ exactly one character, every other character
// itself (case-sensitive; there is no escape character). A character is one
// UTF-8 encoded rune, or a single byte where the text is not valid UTF-8.
func likeMatch(s, pattern string) bool {
	si, pi := 0, 0
	starP, starS := -1, 0 // where to resume after the last %, in pattern and s
	for si < len(s) {
		if pi < len(pattern) {
			switch c := pattern[pi]; c {
			case '%':
				pi++
				starP, starS = pi, si
				continue
			case '_':
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			default:
				_, pn := utf8.DecodeRuneInString(pattern[pi:])
				_, sn := utf8.DecodeRuneInString(s[si:])
				if pn == sn && s[si:si+sn] == pattern[pi:pi+pn] {
					si += sn
					pi += pn
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last % swallow one more character and retry from there.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		si, pi = starS, starP
	}
	for pi < len(pattern) && pattern[pi] == '%' {
		pi++
	}
	return pi == len(pattern)
}

// LikePrefix returns the literal text a LIKE pattern starts with (everything
// before its first % or _), which every matching string starts with, so an
// engine can turn `name LIKE 'abc%'` into a key-range scan. exact reports
// that the pattern has no wildcard at all: LIKE is then plain equality with
// prefix.
func LikePrefix(pattern string) (prefix string, exact bool) {
	i := strings.IndexAny(pattern, "%_")
	if i < 0 {
		return pattern, true
	}
	return pattern[:i], false
}
