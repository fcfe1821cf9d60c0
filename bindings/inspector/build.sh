#!/bin/sh
# Builds the inspector page into cmd/ankurah/inspector, which the ankurah
# binary embeds: index.html and assets/ (committed), and the WebAssembly node
# gzipped with Go's wasm_exec.js beside it (generated, not committed).
# Rebuild cmd/ankurah afterwards. --page-only skips the WebAssembly node;
# ANKURAH_WASM=FILE takes one built already (from bindings/wasm's source).
set -eu
cd "$(dirname "$0")"
out=../../cmd/ankurah/inspector
rm -rf "$out/assets"
npx tsc --noEmit -p .
npx vite build --logLevel warn
[ "${1:-}" = --page-only ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wasm=${ANKURAH_WASM:-}
if [ -z "$wasm" ]; then
	wasm="$tmp/ankurah.wasm"
	(cd ../wasm && GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o "$wasm" .)
fi
gzip -9 -n -c "$wasm" > "$out/ankurah.wasm.gz"
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
