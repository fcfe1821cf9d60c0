// Command wasm is the Ankurah browser client: an ephemeral node (IndexedDB
// storage, websocket client) compiled with GOOS=js GOARCH=wasm. It exports
// its API on globalThis.__ankurah for the bindings/js package, which wraps it
// in typed classes; applications use that package, not this object.
//
// It registers the collaborative text datatype (plugins/datatype-text,
// backend "text"): text properties read as strings, and mutText,
// mutTextInsert, mutTextDelete, mutTextSplice and mutTextReplace edit one in
// a transaction, positions and lengths counted in Unicode code points (not
// JavaScript's UTF-16 units). A durable node it syncs with must register the
// backend too (ankurah serve does).
//
// Build it with
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o ankurah.wasm .
//
// and serve it beside $(go env GOROOT)/lib/wasm/wasm_exec.js.
package main
