#!/usr/bin/env bash
# What a router's busy-polling (`--busy-poll`) buys and costs: GET (TEST to change) through
# a router over one shale server, at a few connection counts (CONNS), once with each
# --busy-poll value (POLLS), a fresh router each time. Prints ops/s, p50 and the router's
# CPU per request (utime + stime from /proc). Also the router's threads (THREADS) if set.
# Loopback only; not part of CI. Needs redis-benchmark and redis-cli (INSTALL=1).
#
#   BASE=17600 bench/busy-poll.sh
#   CONNS="1 50" POLLS="0 200us 1ms" N=100000 bench/busy-poll.sh
set -euo pipefail
BASE=${BASE:-7600}
N=${N:-40000}
TEST=${TEST:-get}
[ "${INSTALL:-0}" = 1 ] && apt-get install -y -qq redis-tools >/dev/null
for tool in redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (INSTALL=1)"; exit 1; }
done
source "$(dirname "$0")/lib.sh"

S=$((BASE + 1))
cat > "$dir/map.json" <<JSON
{"numShards": 1, "nodes": {"n1": {"address": "127.0.0.1", "port": $S}}, "shards": {"1": ["n1"]}}
JSON
"$bin" server --port "$S" --log-level warn & pids+=($!)
wait_port "$S"
port=$((BASE + 10))
printf '%-6s %-10s %12s %8s %12s\n' conns busy_poll ops/s p50_ms router_us/op
for c in ${CONNS:-1 2 4 8 50}; do
  for poll in ${POLLS:-0 200us}; do
    port=$((port + 1))
    "$bin" router --port "$port" --shardmap "$dir/map.json" --busy-poll "$poll" \
      --threads "${THREADS:-0}" --log-level warn & r=$!; pids+=($r)
    wait_port "$port"
    read -r ops p50 us <<<"$(KEYSPACE=1000 measured "$r" "$port" "$TEST" 1 "$c")"
    printf '%-6s %-10s %12s %8s %12s\n' "$c" "$poll" "$ops" "$p50" "$us"
    kill "$r"; wait "$r" 2>/dev/null || true
  done
done
