package main

// The property backends (datatypes) a served node can apply besides the
// built-in LWW: without one, every event that uses it is refused as
// "unknown backend". The example app's album notes use "text".
import (
	_ "github.com/ankurah/ankurah-go/plugins/datatype-text" // registers backend "text"
)
