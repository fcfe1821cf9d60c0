#!/usr/bin/env bash
# Runs the Ankurah server with the example app on the embedded bolt default.
# Installs what it needs first. Usage: scripts/run.sh [ankurah serve flags]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_runtime
cd "$ROOT"
exec go run ./examples/albums "$@"
