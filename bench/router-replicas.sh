#!/usr/bin/env bash
# The router over three shale servers with every shard on all three (writes fan out to
# three replicas): ops/s and the router's CPU per op for SET and GET at -P 1 and -P 16.
# Loopback only; not part of CI.
#
#   bench/router-replicas.sh                    # ROUTER_THREADS=1 for one worker thread
#   SHALE=path/to/shale bench/router-replicas.sh  # another build (no cargo build)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
BASE=${BASE:-7430}
ROUTER_THREADS=${ROUTER_THREADS:-0}
source "$(dirname "$0")/lib.sh"

for i in 1 2 3; do "$bin" server --port $((BASE + i)) --log-level warn & pids+=($!); done
cat > "$dir/map.json" <<JSON
{"numShards": 2, "nodes": {"n1": {"address": "127.0.0.1", "port": $((BASE + 1))},
 "n2": {"address": "127.0.0.1", "port": $((BASE + 2))},
 "n3": {"address": "127.0.0.1", "port": $((BASE + 3))}},
 "shards": {"1": ["n1", "n2", "n3"], "2": ["n2", "n3", "n1"]}}
JSON
for i in 1 2 3; do
  wait_port $((BASE + i))
done
"$bin" router --port "$BASE" --shardmap "$dir/map.json" --threads "$ROUTER_THREADS" --log-level warn & ROUTER_PID=$!; pids+=($!)
wait_port "$BASE"

echo "router --threads $ROUTER_THREADS, 3 replicas per shard (redis-benchmark -c 50 -d 32 -r 100000 -n $N)"
printf '%-4s %-3s %12s %10s\n' test P ops router_us
for p in 1 16; do
  for t in set get; do
    read -r ops _ us <<<"$(measured "$ROUTER_PID" "$BASE" "$t" "$p" 50)"
    printf '%-4s %-3s %12s %10s\n' "$t" "$p" "$ops" "$us"
  done
done
