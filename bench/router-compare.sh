#!/usr/bin/env bash
# Throughput of the same redis-benchmark workloads (SET, GET, MSET of 10 keys; TESTS to
# change) direct to a shale server, through the
# shale router, and through twemproxy (nutcracker), in one run, over the same two shale
# servers sharded the same way (2 shards, 1 replica each; twemproxy has no replication).
# Also runs the router with 2 replicas per shard (writes fan out to both).
# Loopback only; not part of CI.
#
#   bench/router-compare.sh            # INSTALL=1 to apt-get install nutcracker and redis-tools
#   ROUTER_THREADS=1 bench/router-compare.sh   # routers with one worker thread, as twemproxy
#   SHALE=path/to/shale bench/router-compare.sh  # another build (no cargo build), e.g. a baseline
#
# Each figure is the median of ROUNDS (default 3) interleaved rounds, each ratio the median
# of the rounds' ratios (the rounds' own ratios are listed after it): one round moves by
# 10-20% with the machine, which is as much as the targets' margins.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
# -P 16 runs take five times the requests: at N they last under half a second, and CPU
# time is read in 10 ms clock ticks.
N16=${N16:-$((N * 5))}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-3}
BASE=${BASE:-7410}
ROUTER_THREADS=${ROUTER_THREADS:-0}
if [ "${INSTALL:-0}" = 1 ]; then
  apt-get update -qq && apt-get install -y -qq nutcracker redis-tools >/dev/null
fi
for tool in nutcracker redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run with INSTALL=1)"; exit 1; }
done

source "$(dirname "$0")/lib.sh"

S1=$((BASE + 1)); S2=$((BASE + 2)); ROUTER=$((BASE)); ROUTER_R2=$((BASE + 5)); TWEM=$((BASE + 9))
"$bin" server --port "$S1" --log-level warn & pids+=($!)
"$bin" server --port "$S2" --log-level warn & pids+=($!)

sharded_map "$dir/sharded.json" "$S1" "$S2"
cat > "$dir/replicated.json" <<JSON
{"numShards": 2, "nodes": {"n1": {"address": "127.0.0.1", "port": $S1},
 "n2": {"address": "127.0.0.1", "port": $S2}}, "shards": {"1": ["n1", "n2"], "2": ["n2", "n1"]}}
JSON
nutcracker_conf "$dir/nutcracker.yml" "$TWEM" "$S1" "$S2"
"$bin" router --port "$ROUTER" --shardmap "$dir/sharded.json" --threads "$ROUTER_THREADS" --log-level warn & ROUTER_PID=$!; pids+=($!)
"$bin" router --port "$ROUTER_R2" --shardmap "$dir/replicated.json" --threads "$ROUTER_THREADS" --log-level warn & pids+=($!)
nutcracker -c "$dir/nutcracker.yml" -o "$dir/nutcracker.log" & TWEM_PID=$!; pids+=($!)
for port in "$S1" "$S2" "$ROUTER" "$ROUTER_R2" "$TWEM"; do
  wait_port "$port"
done

rps() { # PORT TEST PIPELINE -> ops/s
  run "$@" | cut -d' ' -f1
}
run() { # PORT TEST PIPELINE -> "ops/s p50_ms"
  redis-benchmark -p "$1" -t "$2" -n "$(requests "$3")" -c "$CLIENTS" -P "$3" -r 100000 -d 32 --csv 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); gsub(/"/,"",$5); print $2, $5; exit}'
}
tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# proxy PORT PID TEST PIPELINE -> "ops/s p50_ms cpu_us_per_op" of the proxy process
proxy() {
  local before after out
  before=$(cpu_ticks "$2"); out=$(run "$1" "$3" "$4"); after=$(cpu_ticks "$2")
  echo "$out $(awk -v t=$((after - before)) -v hz="$tick" -v n="$(requests "$4")" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
}

echo "router --threads $ROUTER_THREADS (0 = one per core); twemproxy is single-threaded"
echo "medians of $ROUNDS interleaved rounds; r/twem of each round in brackets"
printf '%-4s %-3s %12s %12s %12s %12s %9s %9s %s\n' test P direct router twemproxy router-2rep r/direct r/twem rounds
throughput_round() { # TEST PIPELINE -> "direct router twem router2 r/direct r/twem"
  local d r w r2
  d=$(rps "$S1" "$1" "$2"); r=$(rps "$ROUTER" "$1" "$2"); w=$(rps "$TWEM" "$1" "$2"); r2=$(rps "$ROUTER_R2" "$1" "$2")
  echo "$d $r $w $r2 $(ratio "$r" "$d") $(ratio "$r" "$w")"
}
for p in 1 16; do
  for t in ${TESTS:-set get mset}; do
    rounds throughput_round "$t" "$p"
    printf '%-4s %-3s %12s %12s %12s %12s %9s %9s [%s]\n' "$t" "$p" "$(col 1)" "$(col 2)" "$(col 3)" \
      "$(col 4)" "$(col 5)" "$(col 6)" "$(cols 6)"
  done
done

echo
echo "proxy CPU per op and p50 (same workload; medians of $ROUNDS interleaved rounds, cpu_r/t of each in brackets)"
printf '%-4s %-3s %10s %10s %10s %12s %10s %10s %8s %s\n' test P p50_direct p50_router p50_twem added_us router_us twem_us cpu_r/t rounds
cpu_round() { # TEST PIPELINE -> "p50_direct p50_router p50_twem added_us router_us twem_us cpu_r/t"
  local dp rp rc wp wc
  read -r _ dp <<<"$(run "$S1" "$1" "$2")"
  read -r _ rp rc <<<"$(proxy "$ROUTER" "$ROUTER_PID" "$1" "$2")"
  read -r _ wp wc <<<"$(proxy "$TWEM" "$TWEM_PID" "$1" "$2")"
  echo "$dp $rp $wp $(awk -v a="$rp" -v b="$dp" 'BEGIN{printf "%.0f", (a-b)*1000}') $rc $wc $(ratio "$rc" "$wc")"
}
for p in 1 16; do
  for t in set get; do
    rounds cpu_round "$t" "$p"
    printf '%-4s %-3s %10s %10s %10s %12s %10s %10s %8s [%s]\n' "$t" "$p" "$(col 1)" "$(col 2)" \
      "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)" "$(cols 7)"
  done
done

# The added latency of one hop, without queueing: one connection, one request at a time.
echo
echo "added p50 with one client connection (redis-benchmark -c 1 -P 1, N/10 requests; medians of $ROUNDS rounds, router_add_us of each in brackets)"
printf '%-4s %10s %10s %10s %12s %12s %s\n' test p50_direct p50_router p50_twem router_add_us twem_add_us rounds
p50() { redis-benchmark -p "$1" -t "$2" -n $((N / 10)) -c 1 -P 1 -r 100000 -d 32 --csv 2>/dev/null |
  awk -F'","' 'NR>1 {gsub(/"/,"",$5); print $5; exit}'; }
added_round() { # TEST -> "p50_direct p50_router p50_twem router_add_us twem_add_us"
  local dp rp wp
  dp=$(p50 "$S1" "$1"); rp=$(p50 "$ROUTER" "$1"); wp=$(p50 "$TWEM" "$1")
  echo "$dp $rp $wp $(awk -v a="$rp" -v b="$dp" 'BEGIN{printf "%.0f", (a-b)*1000}')" \
    "$(awk -v a="$wp" -v b="$dp" 'BEGIN{printf "%.0f", (a-b)*1000}')"
}
for t in set get; do
  rounds added_round "$t"
  printf '%-4s %10s %10s %10s %12s %12s [%s]\n' "$t" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" \
    "$(col 5)" "$(cols 4)"
done
