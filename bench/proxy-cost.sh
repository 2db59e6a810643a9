#!/usr/bin/env bash
# Where a proxy's CPU goes, router vs twemproxy over the same two shale servers (one
# shard each): per request, user and system CPU time and context switches of the proxy
# process (from /proc), and with STRACE=1 its system calls by kind (strace -c). Answers
# "is the -P 1 cost in our code or in the kernel?". Loopback only; not part of CI.
#
#   TEST=get P=1 bench/proxy-cost.sh       # ROUTER_THREADS=1, N=..., ROUNDS=...
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=${TEST:-get}; P=${P:-1}; N=${N:-200000}; ROUNDS=${ROUNDS:-2}
BASE=${BASE:-17600}; ROUTER_THREADS=${ROUTER_THREADS:-0}
for tool in nutcracker redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
source "$(dirname "$0")/lib.sh"
S1=$((BASE + 1)); S2=$((BASE + 2)); ROUTER=$BASE; TWEM=$((BASE + 9))
"$bin" server --port "$S1" --log-level warn & pids+=($!)
"$bin" server --port "$S2" --log-level warn & pids+=($!)
sharded_map "$dir/map.json" "$S1" "$S2"
nutcracker_conf "$dir/nutcracker.yml" "$TWEM" "$S1" "$S2"
for port in "$S1" "$S2"; do
  wait_port "$port"
done
"$bin" router --port "$ROUTER" --shardmap "$dir/map.json" --threads "$ROUTER_THREADS" \
  --log-level warn & R=$!; pids+=($!)
nutcracker -c "$dir/nutcracker.yml" -o "$dir/nutcracker.log" & W=$!; pids+=($!)
for port in "$ROUTER" "$TWEM"; do
  wait_port "$port"
done
bench() { redis-benchmark -p "$1" -t "$TEST" -n "$2" -c 50 -P "$P" -r 100000 -d 32 "${@:3}"; }
echo "$TEST -P $P, per request (router --threads $ROUTER_THREADS; twemproxy one thread)"
for round in $(seq "$ROUNDS"); do
  for pair in "$ROUTER $R router" "$TWEM $W twemproxy"; do
    read -r port pid name <<<"$pair"
    bench "$port" 20000 -q >/dev/null 2>&1
    per_request "$name" "$pid" "$N" bench "$port" "$N" --csv
    if [ "${STRACE:-0}" = 1 ]; then
      timeout 120 strace -c -f -p "$pid" -o "$dir/strace.$name" 2>/dev/null & st=$!
      sleep 0.5
      bench "$port" "$N" -q >/dev/null 2>&1
      kill -INT "$st"; wait "$st" || true
      awk -v n="$N" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
        printf "%.3f %s\n", $4 / n, $NF }' "$dir/strace.$name" | sort -nr | head -6 |
        awk '{ printf " %s %s", $2, $1 } END { print "" }' | sed "s/^/  system calls:/"
    fi
  done
done
