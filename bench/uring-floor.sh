#!/usr/bin/env bash
# The floor of a Redis-protocol server's CPU per request on loopback, per Linux I/O interface,
# against redis-server: bench/uring-floor (a do-nothing server answering SET and GET from
# constants) in Redis's ae-loop shape (level-triggered epoll, one read and one write per
# connection per turn) and on io_uring (one io_uring_enter per loop turn), and redis-server
# itself. Answers "could an io_uring server path beat redis-server's CPU per request by more
# than an epoll one can?". Per request, each server process's CPU time (utime+stime from
# /proc, also split into user and system) and context switches, and its ops/s, with
# redis-benchmark -c 50 -d 32 -r 100000 at -P 1 (N requests) and -P 16 (N16); medians of
# ROUNDS interleaved rounds (epoll, uring, redis in turn), each ratio the median of the rounds'
# ratios (the rounds' own in brackets). Needs no shale build. Loopback only; not in CI.
#
#   BASE=17800 ROUNDS=3 N=200000 bench/uring-floor.sh       # ports BASE..BASE+2; N16=5*N
#   SHALE=target/release/shale bench/uring-floor.sh          # and a shale server on BASE+3
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
N16=${N16:-$((N * 5))}
ROUNDS=${ROUNDS:-3}
BASE=${BASE:-17800}
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
# With SHALE=<a shale build> a shale server (--threads ${THREADS:-0}) is measured beside them.
SHALE_BUILD=${SHALE:-}
SHALE=${SHALE:-/bin/true} # lib.sh builds shale unless SHALE is set; only its helpers are used
source "$(dirname "$0")/lib.sh"
cargo build --release --quiet --manifest-path bench/uring-floor/Cargo.toml
floor=bench/uring-floor/target/release/uring-floor

names=(epoll uring redis); ports=("$BASE" $((BASE + 1)) $((BASE + 2)))
$floor --mode epoll --port "${ports[0]}" 2>"$dir/epoll.log" & pids+=($!)
$floor --mode uring --port "${ports[1]}" 2>"$dir/uring.log" & pids+=($!)
redis-server --port "${ports[2]}" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --loglevel warning >/dev/null & pids+=($!)
if [ -n "$SHALE_BUILD" ]; then
  names+=(shale); ports+=($((BASE + 3)))
  "$SHALE_BUILD" server --port "${ports[3]}" --threads "${THREADS:-0}" --log-level warn & pids+=($!)
fi
servers=${#names[@]} # pids (from lib.sh, empty until now) holds their pids in the same order
for port in "${ports[@]}"; do
  wait_port "$port"
  redis-benchmark -p "$port" -t set,get -n 20000 -c 50 -q >/dev/null 2>&1 # warm-up
done

# measure PORT PID TEST PIPELINE -> "ops/s user_us system_us total_us switches", per request
measure() {
  local n
  n=$(requests "$4")
  per_request x "$2" "$n" redis-benchmark -p "$1" -t "$3" -n "$n" -c 50 -P "$4" -r 100000 \
    -d 32 --csv | awk '{ print $3, $5, $8, $11, $14 }'
}
# round TEST PIPELINE -> five measure columns per server in `names` order (server i's at
# 5i+1..5i+5), then each server's CPU ratio to redis-server's
round() {
  local i line="" totals=()
  for i in $(seq 0 $((servers - 1))); do
    m=$(measure "${ports[$i]}" "${pids[$i]}" "$1" "$2")
    line="$line $m"; totals+=("$(cut -d' ' -f4 <<<"$m")")
  done
  for i in $(seq 0 $((servers - 1))); do
    line="$line $(ratio "${totals[$i]}" "${totals[2]}")"
  done
  echo "$line"
}
# column of server I's field F (1 ops/s, 2 user, 3 system, 4 total, 5 switches); of its ratio
field() { echo $((5 * $1 + $2)); }
ratio_col() { echo $((5 * servers + $1 + 1)); }

echo "== server CPU per request (us), medians of $ROUNDS rounds: redis-benchmark -c 50 -d 32" \
  "-r 100000, -n $N at -P 1, -n $N16 at -P 16; $(tr -d '\n' <"$dir/uring.log" | sed 's/uring-floor: //')"
echo "   (each ratio is to redis-server; the rounds' own ratios in brackets)"
: >"$dir/detail"
for p in 1 16; do
  for t in set get; do
    rounds round "$t" "$p"
    for i in $(seq 0 $((servers - 1))); do
      printf '%-4s %-3s %-6s %9s ops/s %6s us  user %5s  system %5s  switches %6s  ratio %s\n' \
        "$t" "$p" "${names[$i]}" "$(col "$(field "$i" 1)")" "$(col "$(field "$i" 4)")" \
        "$(col "$(field "$i" 2)")" "$(col "$(field "$i" 3)")" "$(col "$(field "$i" 5)")" \
        "$(col "$(ratio_col "$i")") [$(cols "$(ratio_col "$i")")]"
    done
  done
done
