#!/usr/bin/env bash
# Runs the same redis-benchmark workloads against shale and redis-server in one run and
# prints ops/s for each and the ratio shale/redis. Loopback only; not part of CI.
#
#   bench/compare.sh                 # uses redis-server / redis-benchmark if installed
#   INSTALL=1 bench/compare.sh       # apt-get installs redis-server and redis-tools first
#   N=200000 CLIENTS=50 bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
CLIENTS=${CLIENTS:-50}
SHALE_PORT=${SHALE_PORT:-7390}
REDIS_PORT=${REDIS_PORT:-7391}

if [ "${INSTALL:-0}" = 1 ]; then
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null
fi
for bin in redis-server redis-benchmark; do
  command -v "$bin" >/dev/null || { echo "missing $bin (run with INSTALL=1)"; exit 1; }
done

cargo build --release --quiet
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

./target/release/shale server --port "$SHALE_PORT" --log-level warn & pids+=($!)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --loglevel warning & pids+=($!)
for port in "$SHALE_PORT" "$REDIS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# rps PORT TEST PIPELINE -> requests per second
rps() {
  redis-benchmark -p "$1" -t "$2" -n "$N" -c "$CLIENTS" -P "$3" -r 100000 -d 32 --csv -q 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}'
}

printf '%-6s %-3s %14s %14s %8s\n' test P shale redis ratio
for p in 1 16; do
  for t in set get; do
    s=$(rps "$SHALE_PORT" "$t" "$p")
    r=$(rps "$REDIS_PORT" "$t" "$p")
    ratio=$(awk -v s="$s" -v r="$r" 'BEGIN { printf "%.2f", s / r }')
    printf '%-6s %-3s %14s %14s %8s\n' "$t" "$p" "$s" "$r" "$ratio"
  done
done
