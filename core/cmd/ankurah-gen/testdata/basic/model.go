// Package basic is a golden case of ankurah-gen: the plain LWW field kinds.
package basic

//ankurah:model
type Album struct {
	Name        string
	Artist      string
	Year        int `ankurah:"year,index"`
	ReleaseYear int32
	Rating      float64
	Explicit    bool
	Secret      string `ankurah:"-"`
	internal    int
}
