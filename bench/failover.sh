#!/usr/bin/env bash
# Failure behaviour under load, on loopback: two replicas behind a router.
#  1. GET load (shale bench) while replica b is SIGKILLed: failed GETs, time to detect.
#  2. GET load while b is SIGSTOPped then SIGCONTed: failed GETs, time to detect, to readmit.
#  3. shale stress for 60 s through the router with b killed at 20 s and restarted at 30 s:
#     writes acked, reads checked, incorrect reads, time for b to converge after restart.
# Not part of CI. Needs redis-cli only for INFO polling (INSTALL=1 apt-installs redis-tools).
set -euo pipefail
BASE=${BASE:-7450}
STRESS_SECS=${STRESS_SECS:-60}
[ "${INSTALL:-0}" = 1 ] && apt-get install -y -qq redis-tools >/dev/null
command -v redis-cli >/dev/null || { echo "missing redis-cli (INSTALL=1)"; exit 1; }
source "$(dirname "$0")/lib.sh"

R=$BASE; A=$((BASE + 1)); B=$((BASE + 2))
cat > "$dir/map.json" <<JSON
{"numShards": 4, "nodes": {"a": {"address": "127.0.0.1", "port": $A},
 "b": {"address": "127.0.0.1", "port": $B}},
 "shards": {"1": ["a", "b"], "2": ["b", "a"], "3": ["a", "b"], "4": ["b", "a"]}}
JSON
node() { $bin server --port "$2" --shardmap "$dir/map.json" --node "$1" --log-level warn >/dev/null 2>>"$dir/$1.log" & echo $!; }
state_b() { redis-cli -p $R info nodes | tr -d '\r' | grep '^node_b:' | sed 's/.*state=\([a-z]*\).*/\1/'; }
hints_b() { redis-cli -p $R info nodes | tr -d '\r' | grep '^node_b:' | sed 's/.*hints=\([0-9]*\).*/\1/'; }
now_ms() { date +%s%3N; }
# wait_state WANT -> prints ms until node b's state is WANT
wait_state() { local t0; t0=$(now_ms); for _ in $(seq 1000); do [ "$(state_b)" = "$1" ] && break; sleep 0.02; done; echo $(( $(now_ms) - t0 )); }

PA=$(node a $A); PB=$(node b $B); pids+=("$PA" "$PB")
wait_port $A; wait_port $B
$bin router --port $R --shardmap "$dir/map.json" --log-level warn & pids+=($!)
wait_port $R
$bin bench -p $R -c 20 -n 20000 -t set -r 10000 --quiet >/dev/null

echo "== 1. SIGKILL of replica b under GET load"
$bin bench -p $R -c 20 --duration 10s -t get -r 10000 --quiet --json "$dir/kill.json" > "$dir/kill.txt" &
bench=$!
sleep 3; kill -KILL "$PB"; t_kill=$(wait_state ejected)
wait "$bench" || true
echo "detected (ejected) after ${t_kill} ms"; grep -E '^(GET|TOTAL)' "$dir/kill.txt"
PB=$(node b $B); pids+=("$PB"); wait_port $B
echo "readmitted after restart in $(wait_state up) ms"

echo "== 2. SIGSTOP / SIGCONT of replica b under GET load"
$bin bench -p $R -c 20 --duration 12s -t get -r 10000 --quiet > "$dir/stop.txt" &
bench=$!
sleep 3; kill -STOP "$PB"; t_stop=$(wait_state ejected)
sleep 3; kill -CONT "$PB"; t_cont=$(wait_state up)
wait "$bench" || true
echo "detected (ejected) after ${t_stop} ms; readmitted ${t_cont} ms after SIGCONT"; grep -E '^(GET|TOTAL)' "$dir/stop.txt"

echo "== 3. ${STRESS_SECS} s stress, b killed at 20 s, restarted at 30 s"
$bin stress -p $R --get-qps 4000 --set-qps 1000 --del-qps 50 --num-keys 2000 \
  --duration "${STRESS_SECS}s" --max-error-rate 1 > "$dir/stress.txt" 2>&1 &
stress=$!
sleep 20; kill -KILL "$PB"
sleep 10; t0=$(now_ms); PB=$(node b $B); pids+=("$PB"); wait_port $B
for _ in $(seq 3000); do [ "$(state_b)" = up ] && [ "$(hints_b)" = 0 ] && break; sleep 0.02; done
t_conv=$(( $(now_ms) - t0 ))
wait "$stress" || true
cat "$dir/stress.txt"
echo "b caught up (up, hints replayed) ${t_conv} ms after restart"
# Both replicas hold the same data: compare every stress key directly.
keys=$(seq -f 'stress:key:%09g' 0 1999)
diff <(redis-cli -p $A mget $keys) <(redis-cli -p $B mget $keys) >/dev/null \
  && echo "replicas identical on all 2000 keys" || echo "REPLICAS DIFFER"
