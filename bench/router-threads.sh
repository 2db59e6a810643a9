#!/usr/bin/env bash
# A router with one worker thread against one with two, alternately, over the same two
# shale servers (two shards): ops/s and the router's CPU per request (utime + stime from
# /proc) for SET and GET (TESTS) at -P 1 (P), ROUNDS times. Loopback only; not part of CI.
#
#   BASE=17610 bench/router-threads.sh
#   P=16 ROUNDS=5 bench/router-threads.sh
set -euo pipefail
BASE=${BASE:-7610}
N=${N:-200000}
[ "${INSTALL:-0}" = 1 ] && apt-get install -y -qq redis-tools >/dev/null
for tool in redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (INSTALL=1)"; exit 1; }
done
source "$(dirname "$0")/lib.sh"

S1=$((BASE + 1)); S2=$((BASE + 2))
"$bin" server --port "$S1" --log-level warn & pids+=($!)
"$bin" server --port "$S2" --log-level warn & pids+=($!)
wait_port "$S1"; wait_port "$S2"
sharded_map "$dir/sharded.json" "$S1" "$S2"
port=$((BASE + 10))
printf '%-4s %-7s %12s %10s\n' test threads ops/s router_us
for _ in $(seq "${ROUNDS:-3}"); do
  for t in ${TESTS:-set get}; do
    for threads in 1 2; do
      port=$((port + 1))
      "$bin" router --port "$port" --shardmap "$dir/sharded.json" --threads "$threads" \
        --log-level warn & r=$!; pids+=($r)
      wait_port "$port"
      read -r ops _ us <<<"$(measured "$r" "$port" "$t" "${P:-1}" 50)"
      printf '%-4s %-7s %12s %10s\n' "$t" "$threads" "$ops" "$us"
      kill "$r"; wait "$r" 2>/dev/null || true
    done
  done
done
