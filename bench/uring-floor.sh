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
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
N16=${N16:-$((N * 5))}
ROUNDS=${ROUNDS:-3}
BASE=${BASE:-17800}
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
SHALE=${SHALE:-/bin/true} # lib.sh builds shale unless SHALE is set; only its helpers are used
source "$(dirname "$0")/lib.sh"
cargo build --release --quiet --manifest-path bench/uring-floor/Cargo.toml
floor=bench/uring-floor/target/release/uring-floor

EPOLL=$BASE; URING=$((BASE + 1)); REDIS=$((BASE + 2))
$floor --mode epoll --port "$EPOLL" 2>"$dir/epoll.log" & EPOLL_PID=$!; pids+=($!)
$floor --mode uring --port "$URING" 2>"$dir/uring.log" & URING_PID=$!; pids+=($!)
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --loglevel warning >/dev/null & REDIS_PID=$!; pids+=($!)
for port in "$EPOLL" "$URING" "$REDIS"; do
  wait_port "$port"
done
for port in "$EPOLL" "$URING" "$REDIS"; do
  redis-benchmark -p "$port" -t set,get -n 20000 -c 50 -q >/dev/null 2>&1 # warm-up
done

# measure PORT PID TEST PIPELINE -> "ops/s user_us system_us total_us switches", per request
measure() {
  local n
  n=$(requests "$4")
  per_request x "$2" "$n" redis-benchmark -p "$1" -t "$3" -n "$n" -c 50 -P "$4" -r 100000 \
    -d 32 --csv | awk '{ print $3, $5, $8, $11, $14 }'
}
# round TEST PIPELINE -> the three servers' measure columns (1-5 epoll, 6-10 uring,
# 11-15 redis), then the CPU ratios epoll/redis (16) and uring/redis (17)
round() {
  local e u r
  e=$(measure "$EPOLL" "$EPOLL_PID" "$1" "$2")
  u=$(measure "$URING" "$URING_PID" "$1" "$2")
  r=$(measure "$REDIS" "$REDIS_PID" "$1" "$2")
  echo "$e $u $r $(ratio "$(cut -d' ' -f4 <<<"$e")" "$(cut -d' ' -f4 <<<"$r")")" \
    "$(ratio "$(cut -d' ' -f4 <<<"$u")" "$(cut -d' ' -f4 <<<"$r")")"
}

echo "== server CPU per request (us), medians of $ROUNDS rounds: redis-benchmark -c 50 -d 32" \
  "-r 100000, -n $N at -P 1, -n $N16 at -P 16; $(tr -d '\n' <"$dir/uring.log" | sed 's/uring-floor: //')"
printf '%-4s %-3s %8s %8s %8s  %-22s %-22s %9s %9s %9s\n' test P epoll_us uring_us redis_us \
  epoll/redis uring/redis epoll_ops uring_ops redis_ops
: >"$dir/detail"
for p in 1 16; do
  for t in set get; do
    rounds round "$t" "$p"
    printf '%-4s %-3s %8s %8s %8s  %-22s %-22s %9s %9s %9s\n' "$t" "$p" "$(col 4)" "$(col 9)" \
      "$(col 14)" "$(col 16) [$(cols 16)]" "$(col 17) [$(cols 17)]" "$(col 1)" "$(col 6)" "$(col 11)"
    printf '%-4s %-3s %8s %8s %8s %8s %8s %8s  %8s %8s %8s\n' "$t" "$p" "$(col 2)" "$(col 3)" \
      "$(col 7)" "$(col 8)" "$(col 12)" "$(col 13)" "$(col 5)" "$(col 10)" "$(col 15)" >>"$dir/detail"
  done
done
echo "== split (medians, us per request) and context switches per request"
printf '%-4s %-3s %8s %8s %8s %8s %8s %8s  %8s %8s %8s\n' test P epoll_usr epoll_sys uring_usr \
  uring_sys redis_usr redis_sys epoll_cs uring_cs redis_cs
cat "$dir/detail"
