#!/usr/bin/env bash
# A/B of two shale builds' router: CPU per request and ops/s, alternating rounds in one run.
#   BEFORE=path/to/old/shale AFTER=path/to/new/shale bench/router-ab.sh
# For each round, test and binary: two `shale server`s (one shard each) behind
# `shale router --threads ${ROUTER_THREADS:-0}`, a warm-up, then redis-benchmark -c 50 -d 32
# -r 100000 -P ${P:-16} -n ${N:-1000000}; prints ops/s and the router's CPU µs per request
# (utime+stime from /proc). Not part of CI.
set -euo pipefail
: "${BEFORE:?path of the old binary}" "${AFTER:?path of the new binary}"
ROUNDS=${ROUNDS:-3}; N=${N:-1000000}; P=${P:-16}; TESTS=${TESTS:-"set get"}
BASE=${BASE:-17600}; ROUTER_THREADS=${ROUTER_THREADS:-0}
tick=$(getconf CLK_TCK)
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/map.json" <<JSON
{"numShards": 2, "nodes": {"n1": {"address": "127.0.0.1", "port": $((BASE + 1))},
 "n2": {"address": "127.0.0.1", "port": $((BASE + 2))}}, "shards": {"1": ["n1"], "2": ["n2"]}}
JSON
one() { # BIN TEST -> "ops/s µs/op"
  pids=()
  "$1" server --port $((BASE + 1)) --log-level warn & pids+=($!)
  "$1" server --port $((BASE + 2)) --log-level warn & pids+=($!)
  "$1" router --port "$BASE" --shardmap "$dir/map.json" --threads "$ROUTER_THREADS" \
    --log-level warn & local router=$!; pids+=($!)
  for port in $((BASE + 1)) $((BASE + 2)) "$BASE"; do
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-benchmark -p "$BASE" -t "$2" -n 50000 -c 50 -P "$P" -r 100000 -d 32 -q >/dev/null 2>&1
  local t0 t1 ops
  t0=$(awk '{print $14 + $15}' "/proc/$router/stat")
  ops=$(redis-benchmark -p "$BASE" -t "$2" -n "$N" -c 50 -P "$P" -r 100000 -d 32 --csv 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}')
  t1=$(awk '{print $14 + $15}' "/proc/$router/stat")
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  awk -v o="$ops" -v t=$((t1 - t0)) -v hz="$tick" -v n="$N" 'BEGIN { printf "%.0f %.2f", o, t * 1e6 / hz / n }'
}
echo "round test P  before_ops  before_us  after_ops  after_us"
for round in $(seq "$ROUNDS"); do
  for t in $TESTS; do
    read -r bo bu <<<"$(one "$BEFORE" "$t")"
    read -r ao au <<<"$(one "$AFTER" "$t")"
    printf "%5s %4s %2s %11s %10s %10s %9s\n" "$round" "$t" "$P" "$bo" "$bu" "$ao" "$au"
  done
done
