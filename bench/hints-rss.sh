#!/usr/bin/env bash
# Router memory for hints: two replicas, b killed, HINTS writes through the router (each
# hinted for b), router RSS before, with the hints queued, and after b is back and the
# hints are replayed. Not part of CI.
set -euo pipefail
BASE=${BASE:-7480}
HINTS=${HINTS:-100000}
SIZE=${SIZE:-32}
source "$(dirname "$0")/lib.sh"
R=$BASE; A=$((BASE + 1)); B=$((BASE + 2))
two_node_map $A $B
rss() { grep VmRSS "/proc/$1/status" | awk '{print $2}'; }
field() { $bin cli -p $R stats | tr -d '\r' | grep "^node_b" | sed "s/.*[:,]$1=\([0-9]*\).*/\1/"; }
PA=$(node a); PB=$(node b); pids+=("$PA" "$PB")
$bin router --port $R --shardmap "$dir/map.json" --log-level warn --max-hints-per-node $((HINTS * 2)) & RP=$!; pids+=("$RP")
for _ in $(seq 300); do [ "$($bin cli -p $R set warm up 2>/dev/null)" = OK ] && break; sleep 0.1; done
kill -KILL "$PB"
$bin bench -p $R -c 4 -n 1000 -t set -r 1000 --quiet >/dev/null 2>&1 || true
before=$(rss $RP)
$bin bench -p $R -c 50 -P 16 -n "$HINTS" -t set -r "$HINTS" -d "$SIZE" --key-pattern seq --quiet | grep -E '^SET' || true
queued=$(rss $RP)
echo "hints for b: $(field hints), hint_bytes $(field hint_bytes)"
echo "router RSS: ${before} KiB before, ${queued} KiB with the hints (+$(( (queued - before) / 1024 )) MiB)"
PB=$(node b); pids+=("$PB")
t0=$(date +%s%3N)
for _ in $(seq 1200); do [ "$(field hints)" = 0 ] && break; sleep 0.1; done
echo "replayed in $(( $(date +%s%3N) - t0 )) ms (b restarted, copied its shard, took the hints)"
$bin bench -p $R -c 4 -n 20000 -t get -r 1000 --quiet >/dev/null 2>&1 || true
after=$(rss $RP)
echo "router RSS after replay: ${after} KiB (+$(( (after - before) / 1024 )) MiB over before)"
