// Command ankurah-gen writes typed Ankurah code for model structs: a View
// with typed getters, a Mut with typed property handles, a collection value
// with Create, Edit, Delete, Restore, Get, Fetch and Query, and a typed live query.
//
// Run it from a go:generate directive in the package that declares the models:
//
//	//go:generate go run github.com/ankurah/ankurah-go/core/cmd/ankurah-gen
//
//	//ankurah:model
//	type Album struct {
//		Name   string
//		Artist string
//		Year   int `ankurah:"year,index"`
//	}
//
// Flags:
//
//	-type Album,Track  generate for these structs (default: every struct marked //ankurah:model)
//	-out file          output file (default ankurah_gen.go in the package directory)
//	-ts file           also write TypeScript interfaces for the models
//	-check             write nothing; fail if the files differ from what would be written (for CI)
//
// Collection and property names are the snake_case of the Go names
// (ReleaseYear -> release_year); a tag `ankurah:"name"` overrides a property
// name, `ankurah:",index"` declares an index, `ankurah:"-"` skips a field.
// A field whose type implements property.Typed is a plugin datatype: the
// generated accessors return the handles its AnkurahMut and AnkurahView
// methods return. The generator reads types only; it never links a plugin.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	var (
		typeList = flag.String("type", "", "comma-separated struct names (default: structs marked //ankurah:model)")
		out      = flag.String("out", "", "output Go file (default ankurah_gen.go in the package directory)")
		ts       = flag.String("ts", "", "also write TypeScript interfaces to this file")
		check    = flag.Bool("check", false, "write nothing; fail if the output files are not what would be written")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: ankurah-gen [-type A,B] [-out file.go] [-ts file.ts] [package]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	cfg := config{Dir: ".", Pattern: ".", Out: *out, TS: *ts, Check: *check}
	if *typeList != "" {
		cfg.Types = strings.Split(*typeList, ",")
	}
	switch flag.NArg() {
	case 0:
	case 1:
		cfg.Pattern = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
