// Package model holds the example app's models. ankurah-gen makes the typed
// Go API (ankurah_gen.go) and the TypeScript records the React app imports
// (../src/ankurah_gen.ts). From the repository's core directory:
//
//	go run ./cmd/ankurah-gen -ts ../examples/react-app/src/ankurah_gen.ts ../examples/react-app/model
//
// `ankurah serve --models examples/react-app/model` declares the models'
// relations on the server (album.artist refers to an artist), so queries
// such as `artist.name = ?` follow the reference there too.
package model

import (
	"github.com/ankurah/ankurah-go/core"
	text "github.com/ankurah/ankurah-go/plugins/datatype-text"
)

// Artist is a performer albums refer to.
//
//ankurah:model
type Artist struct {
	Name string `ankurah:"name,index"`
}

// Album is one album of the shared list.
//
//ankurah:model
type Album struct {
	Name string
	// Artist refers to the album's artist: the list shows the artist's
	// current name and filters by it (`artist.name = ?`).
	Artist core.Ref[Artist] `ankurah:"artist,index"`
	Year   int              `ankurah:"year,index"`
	// Notes is free text that several people can edit at once: concurrent
	// edits merge instead of overwriting each other.
	Notes text.Text
}
