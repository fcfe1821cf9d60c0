// Package relations is a golden case of ankurah-gen: models that refer to
// each other through core.Ref fields.
package relations

import "github.com/ankurah/ankurah-go/core"

// Label is a record label.
//
//ankurah:model
type Label struct {
	Name    string
	Country string
}

// Artist refers to its label.
//
//ankurah:model
type Artist struct {
	Name  string `ankurah:"name,index"`
	Label core.Ref[Label]
}

// Album refers to its artist.
//
//ankurah:model
type Album struct {
	Title  string
	Year   int
	Artist core.Ref[Artist] `ankurah:"artist,index"`
}
