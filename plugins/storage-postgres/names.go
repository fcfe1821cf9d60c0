package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// maxIdent is PostgreSQL's identifier length limit in bytes (NAMEDATALEN-1);
// longer names would be truncated silently, so two long names could meet.
const maxIdent = 63

// ident names a table, index or column made for a collection or property
// name: the name itself followed by suffix when the name is plain and fits,
// else a clean prefix of it, "~" and 16 hex digits of its SHA-256, then
// suffix.
//
// The mapping is injective: a plain name contains no '#', '~' or NUL and is
// valid UTF-8, every suffix starts with '#', and every hashed form contains
// '~' — so no name can be written to land on another's table or column, and
// the fixed columns (id, head, state, residual) and internal tables
// ("#format") meet no name at all. The result is quoted by
// pgx.Identifier.Sanitize wherever it enters SQL.
func ident(name, suffix string) string {
	if plain(name) && len(name)+len(suffix) <= maxIdent {
		return name + suffix
	}
	sum := sha256.Sum256([]byte(name))
	tail := "~" + hex.EncodeToString(sum[:8]) + suffix
	var b strings.Builder
	for _, r := range name {
		if r == utf8.RuneError || r == 0 || r == '#' || r == '~' {
			continue
		}
		if b.Len()+utf8.RuneLen(r)+len(tail) > maxIdent {
			break
		}
		b.WriteRune(r)
	}
	return b.String() + tail
}

func plain(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.ContainsAny(name, "#~\x00")
}
