#!/usr/bin/env bash
# Where a server's CPU goes, shale vs redis-server: per request, user and system CPU time
# and context switches of the server process (from /proc), and with PERF=1 the share of
# its CPU inside the kernel's send, receive and epoll paths (perf record, software clock).
# Answers "how much of the -P 1 cost could any server save?". Loopback only; not in CI.
#
#   TEST=get P=1 bench/server-cost.sh       # THREADS=1, N=..., ROUNDS=..., PERF=1
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=${TEST:-get}; P=${P:-1}; N=${N:-300000}; ROUNDS=${ROUNDS:-2}
BASE=${BASE:-17620}; THREADS=${THREADS:-0}
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
source "$(dirname "$0")/lib.sh"
SHALE=$BASE; REDIS=$((BASE + 1))
"$bin" server --port "$SHALE" --threads "$THREADS" --log-level warn & S=$!; pids+=($!)
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --loglevel warning >/dev/null & R=$!; pids+=($!)
for port in "$SHALE" "$REDIS"; do
  wait_port "$port"
done
bench() { redis-benchmark -p "$1" -t "$TEST" -n "$2" -c 50 -P "$P" -r 100000 -d 32 "${@:3}"; }
# kernel_shares PID PORT: percent of the process's samples under each kernel path
kernel_shares() {
  perf record -F 2000 -e cpu-clock -g -p "$1" -o "$dir/perf.data" -- sleep 600 >/dev/null 2>&1 &
  local rec=$!
  sleep 0.5
  bench "$2" "$N" -q >/dev/null 2>&1
  kill -INT "$rec"; wait "$rec" || true
  perf report -i "$dir/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
    awk '$NF ~ /^(tcp_sendmsg|tcp_recvmsg|do_epoll_wait|do_syscall_64)$/ { printf " %s %s", $NF, $1 }
      END { print "" }' | sed 's/^/  kernel paths (share of its CPU):/'
}
echo "$TEST -P $P, per request (shale --threads $THREADS; redis-server one thread)"
for round in $(seq "$ROUNDS"); do
  for pair in "$SHALE $S shale" "$REDIS $R redis"; do
    read -r port pid name <<<"$pair"
    bench "$port" 20000 -q >/dev/null 2>&1
    per_request "$name" "$pid" "$N" bench "$port" "$N" --csv
    if [ "${PERF:-0}" = 1 ]; then kernel_shares "$pid" "$port"; fi
  done
done
