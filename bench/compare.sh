#!/usr/bin/env bash
# shale vs redis-server (and the shale router vs twemproxy) on loopback, in one run:
#  - redis-benchmark's string tests (TESTS, default SET GET INCR MSET PING_MBULK), 50
#    connections, 32-byte values, 100 000 random keys, -P 1 / 16: ops/s and server CPU time
#    per op (utime+stime from /proc), ratio shale/peer
#  - resident memory per key after loading 1 000 000 keys (16-byte keys, 32-byte values)
#    without and with a TTL
#  - expiry: 1M keys with a 1 s TTL expire while a GET benchmark runs; time until all are
#    reclaimed, and the benchmark's p99 against the same load without a TTL (and against
#    the empty store). PARTS=expiry runs this part alone, EXPIRY_FLAGS adds server flags to
#    it (e.g. --threads 1).
#  - then bench/router-compare.sh (when nutcracker is installed): the shale router and
#    twemproxy over the same two shale servers, ops/s, proxy CPU per op, added p50
# Not part of CI. INSTALL=1 apt-installs redis-server, redis-tools and nutcracker. ROUTER=0
# skips the router part; SHALE=path measures another build (a baseline) without building.
# The CPU part's figures are medians of ROUNDS (default 3) interleaved rounds, each ratio
# the median of the rounds' ratios (the rounds' own CPU ratios follow it in brackets).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
# -P 16 runs take five times the requests: at N they last a fifth of a second, and CPU
# time is read in 10 ms clock ticks.
N16=${N16:-$((N * 5))}
ROUNDS=${ROUNDS:-3}
SHALE_PORT=${SHALE_PORT:-7390}
REDIS_PORT=${REDIS_PORT:-7391}
KEYS=${KEYS:-1000000}
TESTS=${TESTS:-set get incr mset ping_mbulk}
if [ "${INSTALL:-0}" = 1 ]; then
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools nutcracker >/dev/null
fi
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run with INSTALL=1)"; exit 1; }
done
source "$(dirname "$0")/lib.sh"
tick=$(getconf CLK_TCK)
# want PART: whether PARTS (default all: cpu memory expiry router) names it
want() { [[ " ${PARTS:-cpu memory expiry router} " == *" $1 "* ]]; }

start_shale() { $bin server --port "$SHALE_PORT" --log-level warn "$@" >/dev/null 2>&1 & SHALE_PID=$!; pids+=("$SHALE_PID"); wait_port "$SHALE_PORT"; }
start_redis() { redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning >/dev/null & REDIS_PID=$!; pids+=("$REDIS_PID"); wait_port "$REDIS_PORT"; }
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# bench PORT PID TEST PIPELINE -> "ops_per_sec cpu_us_per_op"
bench() {
  local before after rps n
  n=$(requests "$4")
  before=$(cpu_ticks "$2")
  rps=$(redis-benchmark -p "$1" -t "$3" -n "$n" -c 50 -P "$4" -r 100000 -d 32 --csv -q 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}')
  after=$(cpu_ticks "$2")
  awk -v r="$rps" -v t=$((after - before)) -v hz="$tick" -v n="$n" \
    'BEGIN { printf "%s %.2f", r, t * 1e6 / hz / n }'
}

# cpu_round TEST PIPELINE -> "shale_ops redis_ops ratio shale_us redis_us ratio"
cpu_round() {
  local so sc ro rc
  read -r so sc <<<"$(bench "$SHALE_PORT" "$SHALE_PID" "$1" "$2")"
  read -r ro rc <<<"$(bench "$REDIS_PORT" "$REDIS_PID" "$1" "$2")"
  echo "$so $ro $(ratio "$so" "$ro") $sc $rc $(ratio "$sc" "$rc")"
}

if want cpu; then
# Twice: with the default threads (one per core) and with --threads 1, as redis-server is
# single-threaded; on a small machine shared with the benchmark client a second worker
# thread mostly adds wakeups.
for threads in 0 1; do
  start_shale --threads "$threads"; start_redis
  echo "== throughput and CPU per op, shale --threads $threads (redis-benchmark -c 50 -d 32 -r 100000 -n $N, at -P 16 -n $N16)"
  printf '%-10s %-3s %12s %12s %7s %10s %10s %7s %s\n' test P shale_ops redis_ops ratio shale_us redis_us ratio rounds
  for p in 1 16; do
    for t in $TESTS; do
      rounds cpu_round "$t" "$p"
      printf '%-10s %-3s %12s %12s %7s %10s %10s %7s [%s]\n' "$t" "$p" "$(col 1)" "$(col 2)" \
        "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" "$(cols 6)"
    done
  done
  stop "$SHALE_PID"; stop "$REDIS_PID"
done
fi

# load PORT PID TTLFLAG -> bytes of RSS growth per key
load() {
  local before after keys
  before=$(rss_kib "$2")
  $bin bench -p "$1" --proto resp -t set --key-pattern seq --key-prefix kv: -r "$KEYS" -n "$KEYS" -d 32 -c 20 -P 32 --quiet $3 >/dev/null
  after=$(rss_kib "$2")
  keys=$(redis-cli -p "$1" dbsize)
  awk -v a="$after" -v b="$before" -v k="$keys" 'BEGIN { printf "%.1f", (a - b) * 1024 / k }'
}
if want memory; then
echo "== resident memory per key ($KEYS keys, 16-byte keys, 32-byte values)"
for ttl in "" "--ttl 3600s"; do
  start_shale; start_redis
  s=$(load "$SHALE_PORT" "$SHALE_PID" "$ttl"); r=$(load "$REDIS_PORT" "$REDIS_PID" "$ttl")
  printf '%-12s shale %7s B/key  redis %7s B/key  ratio %.2f\n' "${ttl:-no ttl}" "$s" "$r" "$(awk -v a="$s" -v b="$r" 'BEGIN{print a/b}')"
  stop "$SHALE_PID"; stop "$REDIS_PID"
done
fi

if want expiry; then
echo "== expiry under load: $KEYS keys with a 1 s TTL"
p99() { $bin bench -p "$SHALE_PORT" -t get -r 100000 --duration "$1" -c 50 --quiet --csv | awk -F, '$1=="GET" {print $10}'; }
fill() { $bin bench -p "$SHALE_PORT" --proto resp -t set --key-pattern seq -r "$KEYS" -n "$KEYS" -d 32 -c 20 -P 32 --quiet "$@" >/dev/null; }
# The control: the same load without a TTL, then the same GET benchmark. What the load leaves
# behind (a full store, and the worker threads the balancer spread the load over, held for
# SPREAD_HOLD_PERIODS) is in both runs, so their ratio is what the expiry itself costs.
start_shale ${EXPIRY_FLAGS:-}
fill
control=$(p99 4s)
stop "$SHALE_PID"
start_shale ${EXPIRY_FLAGS:-}
base=$(p99 4s)
fill --ttl 1s
loaded=$(date +%s%3N)
during_file=$(mktemp)
( p99 4s > "$during_file" ) &
bench_pid=$!
while [ "$(redis-cli -p "$SHALE_PORT" dbsize)" -gt 0 ]; do sleep 0.05; done
gone=$(( $(date +%s%3N) - loaded ))
wait "$bench_pid"
during=$(cat "$during_file")
echo "all keys reclaimed ${gone} ms after the load finished (TTL 1 s, so $((gone - 1000)) ms after the last expiry at the latest)"
echo "GET p99 during the sweep ${during} ms; without expiry: after the same load without TTL ${control} ms (ratio $(ratio "$during" "$control")), on the empty store before the load ${base} ms (ratio $(ratio "$during" "$base"))"
stop "$SHALE_PID"
fi

# The proxies: the shale router and twemproxy in front of the same two shale servers, same
# redis-benchmark workloads, with the proxies' CPU per op and added latency.
if [ "${ROUTER:-1}" = 0 ] || ! want router; then
  echo "== router vs twemproxy skipped (ROUTER=0, or PARTS without router)"
elif command -v nutcracker >/dev/null; then
  echo "== router vs twemproxy (bench/router-compare.sh)"
  N="$N" N16="$N16" ROUNDS="$ROUNDS" bash bench/router-compare.sh
else
  echo "== router vs twemproxy skipped: nutcracker is not installed (INSTALL=1 installs it)"
fi
