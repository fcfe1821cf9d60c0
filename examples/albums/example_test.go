package main

import (
	"context"
	"os"
	"path/filepath"
)

// Example runs the program on a fresh bolt file: three albums are stored, and
// the query finds those released after 2000, oldest first.
func Example() {
	dir, err := os.MkdirTemp("", "albums")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := run(context.Background(), os.Stdout, filepath.Join(dir, "albums.db")); err != nil {
		panic(err)
	}
	// Output:
	// 2001  Origin of Symmetry (Muse)
	// 2007  In Rainbows (Radiohead)
}
