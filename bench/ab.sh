#!/usr/bin/env bash
# A/B of two shale builds on GET/SET and memory per key, alternating rounds in one run.
#   BEFORE=path/to/old/shale AFTER=path/to/new/shale bench/ab.sh
# For each round and binary: `shale server --threads ${THREADS:-1}`, redis-benchmark
# -c 50 -d 32 -r 100000 SET and GET at -P 1 (N1, default 200 000) and -P 16 (N16,
# default 1 000 000): ops/s and server CPU per op (utime+stime from /proc); then a fresh
# server loaded with 1 000 000 SETs (16-byte keys, 32-byte values): RSS growth per key and
# the store's used_memory per key. PIPES="16" runs only -P 16 and MEMORY=0 skips the memory
# part, for a longer A/B of one row. Not part of CI.
set -euo pipefail
: "${BEFORE:?path of the old binary}" "${AFTER:?path of the new binary}"
ROUNDS=${ROUNDS:-3}; N1=${N1:-200000}; N16=${N16:-1000000}; THREADS=${THREADS:-1}
PIPES=${PIPES:-"1 16"}
PORT=${PORT:-7392}
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start() {
  "$1" server --port "$PORT" --log-level warn --threads "$THREADS" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.05; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }
for round in $(seq "$ROUNDS"); do
  for side in before after; do
    bin=$BEFORE; [ "$side" = after ] && bin=$AFTER
    start "$bin"
    line="round $round $side:"
    for p in $PIPES; do
      for t in set get; do
        n=$N1; [ "$p" = 16 ] && n=$N16
        b=$(cpu "$pid")
        rps=$(redis-benchmark -p "$PORT" -t "$t" -n "$n" -c 50 -P "$p" -r 100000 -d 32 --csv -q 2>/dev/null |
          awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}')
        a=$(cpu "$pid")
        line+=" $t P$p $(printf %.0f "$rps") ops/s $(awk -v t=$((a - b)) -v hz="$tick" -v n="$n" 'BEGIN{printf "%.2f", t*1e6/hz/n}') us/op;"
      done
    done
    stop
    if [ "${MEMORY:-1}" = 0 ]; then echo "$line"; continue; fi
    start "$bin"
    before_kib=$(rss "$pid")
    "$AFTER" bench -p "$PORT" --proto resp -t set --key-pattern seq --key-prefix kv: -r 1000000 \
      -n 1000000 -d 32 -c 20 -P 32 --quiet >/dev/null
    keys=$(redis-cli -p "$PORT" dbsize)
    used=$(redis-cli -p "$PORT" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')
    line+=" rss $(awk -v a="$(rss "$pid")" -v b="$before_kib" -v k="$keys" 'BEGIN{printf "%.1f", (a-b)*1024/k}') B/key,"
    line+=" used_memory $(awk -v u="$used" -v k="$keys" 'BEGIN{printf "%.1f", u/k}') B/key"
    stop
    echo "$line"
  done
done
