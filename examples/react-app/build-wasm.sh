#!/bin/sh
# Builds the Ankurah WebAssembly node into public/ with Go's wasm_exec.js
# beside it (both served as static files; not committed).
set -eu
cd "$(dirname "$0")"
mkdir -p public
(cd ../../bindings/wasm && GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o ../../examples/react-app/public/ankurah.wasm .)
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" public/wasm_exec.js
