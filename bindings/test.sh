#!/usr/bin/env bash
# The browser part of the test suite (issue 10): installs what it needs
# idempotently, then
#   1. vets and staticchecks the js/wasm code (GOOS=js GOARCH=wasm),
#   2. runs bindings/wasm's tests (size budget, no cel-go/gRPC/x/tools),
#   3. runs storage-indexeddb's tests: the planner natively, and the storage
#      conformance suite in headless Chromium through wasmbrowsertest,
#   4. type-checks bindings/js and bindings/react,
#   5. builds examples/react-app into dist (wasm + wasm_exec.js + Vite bundle),
#   6. runs the app's browser tests (playwright-core + /usr/bin/chromium)
#      against `ankurah serve --static dist`; screenshots go to
#      examples/react-app/test-artifacts/.
#   7. builds the inspector page (bindings/inspector) into cmd/ankurah/inspector
#      and runs its browser tests; screenshots go to bindings/inspector/test-artifacts/.
# Under CI=true a missing browser fails the run.
# Usage: bindings/test.sh [--no-install] [--skip-go]
#   --no-install  assume chromium, wasmbrowsertest and node_modules are there
#   --skip-go     skip steps 1-3 (for a caller that already runs go vet,
#                 staticcheck and go test over every module; note step 1 is
#                 the only js/wasm vet)
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
WASMBROWSERTEST_VERSION=v0.11.0

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install() {
	if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
		echo "bindings/test.sh: installing chromium (Debian)"
		as_root apt-get update -qq
		DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
	fi
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
	fi
	command -v wasmbrowsertest >/dev/null || go install "github.com/agnivade/wasmbrowsertest@$WASMBROWSERTEST_VERSION"
	for dir in bindings/js bindings/react examples/react-app bindings/inspector; do
		local d="$ROOT/$dir"
		if [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
			echo "bindings/test.sh: npm ci in $dir"
			(cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
		fi
	done
}

do_install=1 do_go=1
for a in "$@"; do
	case "$a" in
	--no-install) do_install=0 ;;
	--skip-go) do_go=0 ;;
	*) echo "usage: bindings/test.sh [--no-install] [--skip-go]" >&2; exit 2 ;;
	esac
done
[ "$do_install" = 0 ] || install

if [ "${CI:-}" = "true" ] && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
	echo "bindings/test.sh: no Chromium at ${CHROMIUM:-/usr/bin/chromium} (CI=true: a missing browser is a failure)" >&2
	exit 1
fi

if [ "$do_go" = 1 ]; then
echo "== js/wasm vet + staticcheck"
for m in bindings/wasm plugins/storage-indexeddb; do
	(cd "$ROOT/$m" && GOOS=js GOARCH=wasm go vet ./... && if command -v staticcheck >/dev/null; then GOOS=js GOARCH=wasm staticcheck ./...; fi)
done

echo "== bindings/wasm: size budget and import graph"
(cd "$ROOT/bindings/wasm" && go test -count=1 ./...)

echo "== storage-indexeddb: planner, and storagetest in headless Chromium"
# TestInChromium runs `GOOS=js GOARCH=wasm go test -exec wasmbrowsertest` and shows its output.
(cd "$ROOT/plugins/storage-indexeddb" && go test -count=1 -v -run 'TestInChromium|TestMakePlan' ./... | { grep -vE '^\s*(=== RUN|--- PASS: TestMakePlan_UsesIndexesItCan/)' || true; })
fi

echo "== bindings/js, bindings/react: type check"
(cd "$ROOT/bindings/js" && npx tsc --noEmit -p .)
(cd "$ROOT/bindings/react" && npx tsc --noEmit -p .)

echo "== examples/react-app: build and browser tests"
(cd "$ROOT/examples/react-app" && npm run --silent build && node --test e2e/)

echo "== bindings/inspector: build into cmd/ankurah/inspector (the app's wasm reused) and browser tests"
(cd "$ROOT/bindings/inspector" && ANKURAH_WASM="$ROOT/examples/react-app/public/ankurah.wasm" sh ./build.sh && node --test e2e/)
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 && ! git -C "$ROOT" diff --quiet -- cmd/ankurah/inspector; then
	echo "bindings/test.sh: the committed inspector page differs from its source: run bindings/inspector/build.sh and commit cmd/ankurah/inspector" >&2
	exit 1
fi
