//go:build !js

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "ankurah wasm: build with GOOS=js GOARCH=wasm")
	os.Exit(2)
}
