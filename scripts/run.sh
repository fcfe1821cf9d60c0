#!/usr/bin/env bash
# Runs the Ankurah server on the embedded bolt default (./ankurah.db), with
# the example web app when it has been built, at http://127.0.0.1:9797/.
# Installs what it needs first. Usage: scripts/run.sh [ankurah serve flags]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_runtime
cd "$ROOT"
args=(--addr 127.0.0.1:9797 --storage "bolt://$ROOT/ankurah.db")
if [ -d "$ROOT/examples/react-app/dist" ]; then
	args+=(--static "$ROOT/examples/react-app/dist")
fi
cd cmd/ankurah
exec go run . serve "${args[@]}" "$@"
