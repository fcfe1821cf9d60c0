#!/usr/bin/env bash
# Runs every check and test of every module: go vet, staticcheck, the race
# detector on core, then every module's tests (with the services they start
# themselves: PostgreSQL, the in-process TiKV store, node + yjs, node running
# the JavaScript storage plugin of examples/storage-js, Chromium).
# Installs what it needs first. Usage: scripts/test.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_tests
cd "$ROOT"

mods=$(modules)
pkgs=()
for m in $mods; do
	if [ -z "$(cd "$m" && go list ./... 2>/dev/null)" ]; then continue; fi
	echo "== vet + staticcheck: $m"
	(cd "$m" && go vet ./... && staticcheck ./...)
	pkgs+=("github.com/ankurah/ankurah-go/${m#./}/...")
done

echo "== js/wasm vet + staticcheck"
for m in bindings/wasm plugins/storage-indexeddb; do
	(cd "$m" && GOOS=js GOARCH=wasm go vet ./... && GOOS=js GOARCH=wasm staticcheck ./...)
done

echo "== race detector: core"
(cd core && go test -race -count=1 ./...)

echo "== browser: TypeScript packages, the example app's build and its tests in Chromium"
bindings/test.sh --no-install --skip-go

echo "== tests"
gotestsum --format pkgname-and-test-fails -- -count=1 -timeout 15m "${pkgs[@]}"
