package memory

import (
	"github.com/ankurah/ankurah-go/core/entity"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/keyenc"
)

// An index holds one entry per stored state of its collection: the
// order-preserving encoding of the state's value of the indexed property
// (keyenc; a missing property is NULL) followed by the entity id's bytes.
// keyenc encodings are prefix-free, so entries sort by value, then by id,
// and a range of encoded values is a range of entries.

// indexEntry returns the index entry of a state for property prop.
func indexEntry(s *entity.State, prop string) string {
	k := keyenc.Append(make([]byte, 0, 16+id.Size), s.Values.Get(prop))
	return string(append(k, s.ID[:]...))
}
