// Package models holds the example's model structs and the typed code
// ankurah-gen writes for them (ankurah_gen.go, and models.ts for browsers).
package models

//go:generate go run github.com/ankurah/ankurah-go/core/cmd/ankurah-gen -ts models.ts

// Album is a music album.
//
//ankurah:model
type Album struct {
	Name   string
	Artist string
	Year   int `ankurah:"year,index"`
}
