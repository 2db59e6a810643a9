#!/usr/bin/env bash
# redis-benchmark through the router vs direct, in one run, for GET, SET, INCR and MSET:
# "direct" is one plain `shale server`; "router" is `shale cluster` (NODES nodes, SHARDS
# shards, REPLICAS replicas each, default 3/16/2) with its router, so SET and MSET fan out
# to every replica and INCR runs on each shard's coordinator and is replicated.
# redis-benchmark -c 50 -d 32 -r 100000 -n N (default 100 000) at -P 1 and -P 16.
# Not part of CI.
set -euo pipefail
N=${N:-100000}; NODES=${NODES:-3}; SHARDS=${SHARDS:-16}; REPLICAS=${REPLICAS:-2}
BASE=${BASE:-7480}; DIRECT=${DIRECT:-7479}
TESTS=${TESTS:-get set incr mset}
source "$(dirname "$0")/lib.sh"
$bin server --port "$DIRECT" --log-level warn >/dev/null 2>&1 & pids+=($!)
$bin cluster --nodes "$NODES" --shards "$SHARDS" --replicas "$REPLICAS" --base-port "$BASE" --dir "$dir" >"$dir/cluster.log" 2>&1 & pids+=($!)
wait_port "$DIRECT"; WAIT_S=20 wait_port "$BASE"
ops() {
  redis-benchmark -p "$1" -t "$2" -n "$N" -c 50 -P "$3" -r 100000 -d 32 --csv -q 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}'
}
echo "router over $NODES nodes, $SHARDS shards x $REPLICAS replicas vs one plain server (redis-benchmark -c 50 -d 32 -r 100000 -n $N)"
printf '%-5s %-3s %12s %12s %8s\n' test P direct router r/direct
for p in 1 16; do
  for t in $TESTS; do
    d=$(ops "$DIRECT" "$t" "$p"); r=$(ops "$BASE" "$t" "$p")
    printf '%-5s %-3s %12s %12s %8.2f\n' "$t" "$p" "$d" "$r" "$(awk -v a="$r" -v b="$d" 'BEGIN{print a/b}')"
  done
done
