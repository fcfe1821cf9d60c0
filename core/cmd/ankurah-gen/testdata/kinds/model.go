// Package kinds is a golden case of ankurah-gen covering every supported
// field kind; the generator's tests also run its generated code against the
// memory engine.
package kinds

import (
	"encoding/json"
	"time"

	"github.com/ankurah/ankurah-go/core/cmd/ankurah-gen/testdata/counter"
	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// Genre is a named string.
type Genre string

// Blob is a named byte slice: stored as bytes, not json.
type Blob []byte

// Meta is stored as json.
type Meta struct {
	Producer string   `json:"producer"`
	Tracks   int      `json:"tracks,omitempty"`
	Tags     []string `json:"tags"`
}

// Record has one field of every kind.
//
//ankurah:model
type Record struct {
	Title     string `ankurah:"title,index"`
	Genre     Genre
	Live      bool
	Count     int64
	Small     int8
	Plays     uint32
	Big       uint64
	Score     float32
	Cover     []byte
	Thumb     Blob
	Label     id.EntityID // a reference to another entity
	Nick      *string
	Rank      *int
	Parent    *id.EntityID
	Meta      Meta
	MaybeMeta *Meta `ankurah:"maybe_meta"`
	Credits   map[string]int
	Tags      []string
	Released  time.Time
	Raw       json.RawMessage
	Any       value.Value
	Likes     counter.Counter // a plugin datatype
}
