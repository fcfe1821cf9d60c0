#!/usr/bin/env bash
# Installs what the tests and the server need, idempotently: Debian packages,
# Go tools and npm packages. Sourced by scripts/test.sh and scripts/run.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"

STATICCHECK_VERSION=v0.8.2
GOTESTSUM_VERSION=v1.13.0
WASMBROWSERTEST_VERSION=v0.11.0

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup: installing Debian packages: ${missing[*]}"
		as_root apt-get update -qq
		DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

go_tool() { # go_tool NAME MODULE@VERSION
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "setup: installing $2"
		go install "$2"
	fi
}

npm_ci() { # npm_ci DIR: install a package-lock.json's packages once
	local dir="$ROOT/$1"
	[ -f "$dir/package-lock.json" ] || return 0
	if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		echo "setup: npm ci in $1"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
}

setup_runtime() {
	command -v go >/dev/null || { echo "setup: Go is required (https://go.dev/dl)"; exit 1; }
}

setup_tests() {
	setup_runtime
	apt_install postgresql chromium
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		apt_install nodejs npm
	fi
	go_tool staticcheck "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	go_tool gotestsum "gotest.tools/gotestsum@$GOTESTSUM_VERSION"
	go_tool wasmbrowsertest "github.com/agnivade/wasmbrowsertest@$WASMBROWSERTEST_VERSION"
	for lock in $(cd "$ROOT" && git ls-files '*package-lock.json' 2>/dev/null || true); do
		npm_ci "$(dirname "$lock")"
	done
}

# modules lists the directories of the workspace's modules.
modules() {
	(cd "$ROOT" && go list -m -f '{{.Dir}}' | sed "s#^$ROOT/##")
}
