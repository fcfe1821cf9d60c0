// Package bad holds structs ankurah-gen must refuse, each with a clear error.
package bad

import (
	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/property"
)

type Chan struct{ C chan int }

type Func struct{ F func() }

type Complex struct{ Z complex128 }

type Iface struct{ Any any }

type Uintptr struct{ P uintptr }

type Inner struct{ X int }

type Embedded struct{ Inner }

type Reserved struct{ ID string }

type UnknownOption struct {
	Year int `ankurah:"year,unique"`
}

type Duplicate struct {
	A string `ankurah:"x"`
	B string `ankurah:"x"`
}

type Underscore struct {
	A string `ankurah:"_secret"`
}

type PtrPtr struct{ P **int }

type StructKey struct{ M map[Inner]int }

type NestedChan struct{ M map[string]chan int }

// HalfPlugin implements property.Typed but names no handle types.
type HalfPlugin struct{}

func (HalfPlugin) AnkurahBackend() string { return "half" }

type UsesHalf struct{ H HalfPlugin }

// WrongMut has an AnkurahMut of the wrong shape.
type WrongMut struct{}

func (WrongMut) AnkurahBackend() string          { return "wrong" }
func (WrongMut) AnkurahMut() int                 { return 0 }
func (WrongMut) AnkurahView(property.Handle) int { return 0 }

type UsesWrong struct{ W WrongMut }

type Collide struct{ Name string }

// CollideView clashes with the generated view of Collide.
type CollideView struct{}

type NotAStruct int

type Generic[T any] struct{ V T }

// RefToNonModel refers to a struct that is not generated with it.
type RefToNonModel struct{ R core.Ref[Inner] }

// PtrRef points to a Ref, whose zero value already is NULL.
type PtrRef struct{ R *core.Ref[Inner] }
