#!/usr/bin/env bash
# Runs the Ankurah server on the embedded bolt default (data in ./ankurah-data)
# with the example web app at http://127.0.0.1:9797/ (built first, with its
# npm packages installed, when it is missing or older than its sources), and
# the relations of its models declared (--models: album.artist → artist).
# Usage: scripts/run.sh [ankurah serve flags]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_runtime
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt_install nodejs npm
fi
cd "$ROOT"
for dir in bindings/js bindings/react examples/react-app; do
	npm_ci "$dir"
done
app="$ROOT/examples/react-app"
if [ ! -f "$app/dist/index.html" ] || [ -n "$(find "$app/src" "$app/index.html" "$ROOT/bindings" "$ROOT/core" -newer "$app/dist/index.html" -name '*.*' -not -path '*/node_modules/*' -print -quit)" ]; then
	echo "run: building the example app"
	(cd "$app" && npm run --silent build)
fi
cd cmd/ankurah
exec go run . serve --addr 127.0.0.1:9797 --data-dir "$ROOT/ankurah-data" --static "$app/dist" --models "$app/model" "$@"
