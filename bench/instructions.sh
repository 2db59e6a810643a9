#!/usr/bin/env bash
# Instructions per request (valgrind's callgrind): the one cost figure that does not move
# with the machine's load, so a change's effect shows even where CPU-time rounds are too
# noisy to tell. WHO is the process measured: `router` or `twemproxy` (over two shale
# servers, one shard each, as in router-compare.sh), or `server` or `redis` alone.
# Counting starts after a warm-up, so only the benchmark's requests are counted. User space
# only: the kernel's share is what server-cost.sh and proxy-cost.sh show. Slow; not in CI.
#
#   WHO=router TEST=get P=1 bench/instructions.sh     # N=..., TOP=20 (costliest functions),
#                                                       KEEP=file (the callgrind output)
set -euo pipefail
cd "$(dirname "$0")/.."
WHO=${WHO:-router}; TEST=${TEST:-get}; P=${P:-1}; N=${N:-20000}; BASE=${BASE:-17650}
needs=(valgrind callgrind_control callgrind_annotate redis-benchmark redis-cli)
case $WHO in twemproxy) needs+=(nutcracker) ;; redis) needs+=(redis-server) ;; esac
for tool in "${needs[@]}"; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
source "$(dirname "$0")/lib.sh"
PORT=$BASE; S1=$((BASE + 1)); S2=$((BASE + 2))
# `callgrind CMD...` starts CMD under callgrind with counting off; prints its pid.
callgrind() {
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.out" "$@" \
    >/dev/null 2>"$dir/valgrind.log" &
  echo $!
}
if [ "$WHO" = router ] || [ "$WHO" = twemproxy ]; then
  "$bin" server --port "$S1" --log-level warn & pids+=($!)
  "$bin" server --port "$S2" --log-level warn & pids+=($!)
  wait_port "$S1"; wait_port "$S2"
fi
case $WHO in
  router)
    sharded_map "$dir/map.json" "$S1" "$S2"
    M=$(callgrind "$bin" router --port "$PORT" --shardmap "$dir/map.json" --log-level warn) ;;
  twemproxy)
    nutcracker_conf "$dir/nutcracker.yml" "$PORT" "$S1" "$S2"
    M=$(callgrind nutcracker -c "$dir/nutcracker.yml" -o "$dir/nutcracker.log" \
      -a 127.0.0.1 -s $((BASE + 9))) ;;
  server) M=$(callgrind "$bin" server --port "$PORT" --log-level warn) ;;
  redis)
    M=$(callgrind redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize no --loglevel warning) ;;
  *) echo "WHO is router, twemproxy, server or redis"; exit 1 ;;
esac
pids+=("$M")
WAIT_S=60 wait_port "$PORT" # valgrind starts slowly
bench() { redis-benchmark -p "$PORT" -t "$TEST" -n "$1" -c 50 -P "$P" -r 100000 -d 32 -q; }
bench 5000 >/dev/null 2>&1
callgrind_control -i on "$M" >/dev/null
bench "$N" >/dev/null 2>&1
callgrind_control -i off "$M" >/dev/null
callgrind_control -d "$M" >/dev/null
for _ in $(seq 100); do compgen -G "$dir/cg.out.*" >/dev/null && break; sleep 0.1; done
out=$(compgen -G "$dir/cg.out.*" | head -1)
if [ -n "${KEEP:-}" ]; then cp "$out" "$KEEP"; fi # for callgrind_annotate afterwards
total=$(callgrind_annotate "$out" 2>/dev/null |
  awk '/PROGRAM TOTALS/ && !t { gsub(",", "", $1); print $1; t = 1 }')
echo "$WHO $TEST -P $P: $((total / N)) instructions per request ($N requests, -c 50 -d 32)"
if [ "${TOP:-0}" -gt 0 ]; then
  callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '/file:function/,$p' |
    sed -n "3,$((TOP + 2))p" | sed 's|/[^ ]*/registry/src/[^/]*/||' | cut -c1-160
fi
