#!/usr/bin/env bash
# Anti-entropy cost with nothing to repair: two nodes holding the same 1 M-key shard, no
# router running, for MEASURE_SECS. Prints rounds, digest walks, node CPU per walk and per
# second, and what crossed the wire (digests are 1024 x 8-byte buckets per shard per round).
# Not part of CI.
set -euo pipefail
BASE=${BASE:-7470}
KEYS=${KEYS:-1000000}
MEASURE_SECS=${MEASURE_SECS:-60}
source "$(dirname "$0")/lib.sh"

R=$BASE; A=$((BASE + 1)); B=$((BASE + 2))
two_node_map $A $B
info() { $bin cli -p "$1" info cluster | tr -d '\r' | grep "^$2:" | cut -d: -f2; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_ready() { for _ in $(seq 600); do [ "$(info "$1" node_ready 2>/dev/null)" = 1 ] && return; sleep 0.1; done; echo "node on $1 not ready"; exit 1; }

PA=$(node a); PB=$(node b); pids+=("$PA" "$PB")
wait_ready $A; wait_ready $B
$bin router --port $R --shardmap "$dir/map.json" --log-level warn & RP=$!; pids+=("$RP")
for _ in $(seq 200); do $bin cli -p $R ping >/dev/null 2>&1 && break; sleep 0.05; done
echo "== loading $KEYS keys (13-byte keys, 32-byte values) through a router"
$bin bench -p $R -c 50 -P 16 -n "$KEYS" -t set -r "$KEYS" --key-pattern seq --quiet | grep -E '^SET' || true
kill "$RP"; wait "$RP" 2>/dev/null || true
echo "keys on a: $($bin cli -p $A dbsize), on b: $($bin cli -p $B dbsize)"
sleep 12   # let a round settle any write the router left in flight

hz=$(getconf CLK_TCK)
r0=$(info $A ae_rounds); w0=$(( $(info $A ae_digest_walks) + $(info $B ae_digest_walks) ))
p0=$(( $(info $A ae_bytes_pulled) + $(info $B ae_bytes_pulled) ))
k0=$(( $(info $A ae_keys_repaired) + $(info $B ae_keys_repaired) ))
c0=$(( $(cpu_ticks "$PA") + $(cpu_ticks "$PB") ))
echo "== measuring ${MEASURE_SECS} s with no router and nothing to repair"
sleep "$MEASURE_SECS"
r1=$(info $A ae_rounds); w1=$(( $(info $A ae_digest_walks) + $(info $B ae_digest_walks) ))
p1=$(( $(info $A ae_bytes_pulled) + $(info $B ae_bytes_pulled) ))
k1=$(( $(info $A ae_keys_repaired) + $(info $B ae_keys_repaired) ))
c1=$(( $(cpu_ticks "$PA") + $(cpu_ticks "$PB") ))
walks=$((w1 - w0)); cpu_ms=$(( (c1 - c0) * 1000 / hz ))
echo "rounds (node a): $((r1 - r0)); digest walks (both nodes): $walks"
echo "keys repaired: $((k1 - k0)); bytes pulled: $((p1 - p0))"
echo "node CPU (both, idle but for anti-entropy): ${cpu_ms} ms in ${MEASURE_SECS} s = $(( cpu_ms * 100 / (MEASURE_SECS * 1000) ))% of one core (x100: $(( cpu_ms * 10000 / (MEASURE_SECS * 1000) )))"
[ "$walks" -gt 0 ] && echo "CPU per digest walk of $KEYS keys: $(( cpu_ms / walks )) ms"
echo "digest traffic: 8 KiB + framing per shard per round and direction, ~$(( (r1 - r0) * 2 * 8 ))KiB in ${MEASURE_SECS} s"
echo "RSS: a $(grep VmRSS /proc/$PA/status | awk '{print $2}') KiB, b $(grep VmRSS /proc/$PB/status | awk '{print $2}') KiB"
