// Package multi is a golden case of ankurah-gen: two models in one package,
// names that need care (a package-level name clashing with an import, tags,
// initialisms), and an unmarked struct that is left alone.
package multi

import "github.com/ankurah/ankurah-go/core/id"

// core clashes with the import the generated code needs: it is aliased.
var core = "not the core package"

var _ = core

// Category is a marked model whose plural ends in -ies.
//
//ankurah:model
type Category struct {
	Name     string `ankurah:"display name"`
	URLSlug  string `ankurah:",index"`
	ParentID *id.EntityID
	Previous Ref
}

// Ref is an alias of a pointer type: the field is nullable.
type Ref = *id.EntityID

// HTTPBox is a marked model with an initialism.
//
//ankurah:model
type HTTPBox struct {
	Category id.EntityID `ankurah:"category,index"`
	Body     []byte
}

// Unmarked is not a model.
type Unmarked struct {
	C chan int
}
