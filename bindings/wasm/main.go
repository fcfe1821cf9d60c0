//go:build js

package main

import (
	"syscall/js"
)

func main() {
	js.Global().Set("__ankurah", newAPI().exports())
	if f := js.Global().Get("__ankurahLoaded"); f.Type() == js.TypeFunction {
		f.Invoke()
	}
	select {}
}
