#!/bin/sh
# Builds the inspector page into cmd/ankurah/inspector, which the ankurah
# binary embeds: index.html and assets/ (committed), and the WebAssembly node
# gzipped with Go's wasm_exec.js beside it (generated, not committed).
# Rebuild cmd/ankurah afterwards.
set -eu
cd "$(dirname "$0")"
out=../../cmd/ankurah/inspector
rm -rf "$out/assets"
npx tsc --noEmit -p .
npx vite build --logLevel warn
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd ../wasm && GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o "$tmp/ankurah.wasm" .)
gzip -9 -n -c "$tmp/ankurah.wasm" > "$out/ankurah.wasm.gz"
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
