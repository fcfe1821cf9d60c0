package main

import (
	"strings"
	"unicode"
)

// snakeCase turns a Go name into the snake_case Ankurah uses for collection
// and property names: ReleaseYear -> release_year, AlbumID -> album_id,
// HTTPServer -> http_server, Year2000 -> year2000.
func snakeCase(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plural is the English plural of a Go type name, for the collection value
// (Album -> Albums, Category -> Categories, Box -> Boxes).
func plural(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, "s"), strings.HasSuffix(lower, "x"), strings.HasSuffix(lower, "z"),
		strings.HasSuffix(lower, "ch"), strings.HasSuffix(lower, "sh"):
		return name + "es"
	case strings.HasSuffix(lower, "y") && len(lower) > 1 && !strings.ContainsRune("aeiou", rune(lower[len(lower)-2])):
		return name[:len(name)-1] + "ies"
	}
	return name + "s"
}

// lowerFirst lowers the first letter of a Go name (Album -> album), for
// unexported helpers derived from a model name.
func lowerFirst(name string) string {
	rs := []rune(name)
	if len(rs) == 0 {
		return name
	}
	// A leading initialism lowers as a whole: URLRecord -> urlRecord.
	i := 0
	for i < len(rs) && unicode.IsUpper(rs[i]) {
		i++
	}
	switch {
	case i == 0:
		return name
	case i == 1 || i == len(rs):
	default:
		i-- // keep the capital that starts the next word
	}
	for j := 0; j < i; j++ {
		rs[j] = unicode.ToLower(rs[j])
	}
	return string(rs)
}
