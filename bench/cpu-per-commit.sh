#!/bin/bash
# cpu-per-commit.sh SERVER_BIN CLIENT_TEST_BIN CLIENTS COMMITS_PER_CLIENT
#
# Issue 14's server throughput, with the CPU each side spends per commit:
# starts SERVER_BIN (`ankurah serve`) on memory on a loopback port, runs
# CLIENTS ephemeral clients in one process (CLIENT_TEST_BIN, the bench
# package's test binary: TestThroughputClients), each committing
# COMMITS_PER_CLIENT times to its own entity, and prints commits/s and the
# user+system CPU per commit of the client process (/usr/bin/time) and of
# the server (/proc/PID/stat). Both share the machine's cores, so the rate
# is bounded by the cores divided by the two CPU figures' sum.
#
#   (cd cmd/ankurah && go build -o /tmp/ank-new .) && (cd bench && go test -c -o /tmp/bench-new.test .)
#   bench/cpu-per-commit.sh /tmp/ank-new /tmp/bench-new.test 48 1000
#
# Build a baseline the same way from a worktree at another commit and run
# the two alternately.
set -euo pipefail
srv=$1 cli=$2 clients=$3 per=$4
port=$((17100 + RANDOM % 500))
"$srv" serve --addr 127.0.0.1:$port --storage memory:// 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
	sleep 0.1
done
out=$( { /usr/bin/time -f "%U %S" env ANKURAH_TP_URL=ws://127.0.0.1:$port/ws ANKURAH_TP_CLIENTS=$clients ANKURAH_TP_COMMITS=$per \
	"$cli" -test.run '^TestThroughputClients$' -test.count=1 -test.v; } 2>&1 )
rate=$(echo "$out" | grep -o 'commits/s=[0-9.]*' || true)
ccpu=$(echo "$out" | tail -1)
read -r su ss < <(awk '{print $14, $15}' /proc/$pid/stat)
tck=$(getconf CLK_TCK)
total=$((clients * per))
awk -v r="$rate" -v c="$ccpu" -v su="$su" -v ss="$ss" -v tck="$tck" -v n="$total" -v k="$clients" 'BEGIN {
	split(c, cc, " ")
	printf "clients=%d %s client_us/commit=%.0f server_us/commit=%.0f\n", k, r, (cc[1] + cc[2]) * 1e6 / n, (su + ss) / tck * 1e6 / n }'
