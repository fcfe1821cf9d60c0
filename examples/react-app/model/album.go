// Package model holds the example app's models. ankurah-gen makes the typed
// Go API (ankurah_gen.go) and the TypeScript records the React app imports
// (../src/ankurah_gen.ts). From the repository's core directory:
//
//	go run ./cmd/ankurah-gen -ts ../examples/react-app/src/ankurah_gen.ts ../examples/react-app/model
package model

import text "github.com/ankurah/ankurah-go/plugins/datatype-text"

// Album is one album of the shared list.
//
//ankurah:model
type Album struct {
	Name   string
	Artist string
	Year   int `ankurah:"year,index"`
	// Notes is free text that several people can edit at once: concurrent
	// edits merge instead of overwriting each other.
	Notes text.Text
}
