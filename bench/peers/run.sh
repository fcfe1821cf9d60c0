#!/usr/bin/env bash
# make bench-peers: BQ1, BS1 and bulk writes for ankurah-go (memory, bolt, PostgreSQL)
# beside the npm peers (yjs + y-websocket, RxDB, Triplit, PouchDB, automerge-repo), and a table.
#
#   bench/peers/run.sh                 # full sizes, RUNS=2 (about 30-40 minutes on 2 cores)
#   BENCH_QUICK=1 bench/peers/run.sh   # toy sizes, one run (a few minutes)
#
# Env: RUNS (default 2), PEERS (comma-separated, default all: ankurah-memory,ankurah-bolt,
# ankurah-postgres,yjs,rxdb,triplit,pouchdb,automerge), ANKURAH_SRC (the checkout whose
# cmd/ankurah and bench/peers are built; default this one), BENCH_VERBOSE=1 (children's stderr),
# PG_TEST_URL (an existing PostgreSQL instead of a throwaway one). Extra arguments go to
# peerbench (see `peerbench -h`). Results: bench/peers/.work/results/<UTC stamp>.jsonl.
#
# The npm peers are installed with `npm ci` from _js/npm-shrinkwrap.json (pinned versions);
# every server listens on 127.0.0.1; peerbench ends each child process by its PID, and this
# script ends peerbench by its PID on exit or signal.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "${ANKURAH_SRC:-$HERE/../..}" && pwd)
WORK=$HERE/.work
mkdir -p "$WORK/results"

# node_modules/.installed-from is a copy of the lockfile the last successful npm ci installed.
if ! cmp -s "$HERE/_js/npm-shrinkwrap.json" "$HERE/_js/node_modules/.installed-from"; then
	echo "peers: npm ci in bench/peers/_js" >&2
	(cd "$HERE/_js" && npm ci --no-audit --no-fund --loglevel=error)
	cp "$HERE/_js/npm-shrinkwrap.json" "$HERE/_js/node_modules/.installed-from"
fi
echo "peers: building ankurah and peerbench from $SRC" >&2
(cd "$SRC/cmd/ankurah" && go build -o "$WORK/ankurah" .)
(cd "$SRC/bench/peers" && go build -o "$WORK/peerbench" .)
version=$(git -C "$SRC" log -1 --format='ankurah-go@%h (%cs)' 2>/dev/null || echo ankurah-go)
version="$version $(go env GOVERSION)"

args=(-ankurah "$WORK/ankurah" -ankurah-version "$version" -js "$HERE/_js" -runs "${RUNS:-2}")
[ -n "${PEERS:-}" ] && args+=(-peers "$PEERS")
[ -n "${BENCH_QUICK:-}" ] && args+=(-quick)
out=$WORK/results/$(date -u +%Y%m%dT%H%M%SZ).jsonl
echo "peers: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; node $(node --version); results in $out" >&2

pid=
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap stop EXIT
trap 'stop; exit 130' INT TERM HUP
"$WORK/peerbench" "${args[@]}" -out "$out" "$@" &
pid=$!
rc=0
wait "$pid" || rc=$?
pid=
echo "peers: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; results in $out" >&2
exit "$rc"
