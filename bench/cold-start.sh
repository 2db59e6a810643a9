#!/usr/bin/env bash
# How long reads through a router are refused after its only node comes up, when the router
# started first (DOWN seconds earlier: its probes of the ejected node back off towards
# 10 s meanwhile). Two rounds: reads only, and a write first. Polls GET every 50 ms.
# Loopback only; not part of CI. Needs redis-cli (INSTALL=1 apt-installs redis-tools).
#
#   BASE=17660 DOWN=20 bench/cold-start.sh
#   SHALE=path/to/shale bench/cold-start.sh     # another build, e.g. a baseline
set -euo pipefail
BASE=${BASE:-7660}
DOWN=${DOWN:-20}
[ "${INSTALL:-0}" = 1 ] && apt-get install -y -qq redis-tools >/dev/null
command -v redis-cli >/dev/null || { echo "missing redis-cli (INSTALL=1)"; exit 1; }
source "$(dirname "$0")/lib.sh"

R=$BASE; N=$((BASE + 1))
cat > "$dir/map.json" <<JSON
{"numShards": 1, "nodes": {"n1": {"address": "127.0.0.1", "port": $N}}, "shards": {"1": ["n1"]}}
JSON
now_ms() { date +%s%3N; }
round() { # WRITE_FIRST -> ms from the node listening to the first GET served
  "$bin" router --port "$R" --shardmap "$dir/map.json" --log-level warn 2>>"$dir/router.log" & local router=$!
  pids+=("$router")
  sleep "$DOWN"
  "$bin" server --port "$N" --log-level warn & local node=$!
  pids+=("$node")
  for _ in $(seq 200); do redis-cli -p "$N" ping >/dev/null 2>&1 && break; sleep 0.02; done
  local t0; t0=$(now_ms)
  if [ "$1" = 1 ]; then
    for _ in $(seq 400); do [ "$(redis-cli -p "$R" set k v 2>&1)" = OK ] && break; sleep 0.05; done
  fi
  for _ in $(seq 1200); do
    case "$(redis-cli -p "$R" get k 2>&1)" in UNAVAILABLE*) sleep 0.05 ;; *) break ;; esac
  done
  echo $(( $(now_ms) - t0 ))
  kill "$router" "$node"; wait "$router" "$node" 2>/dev/null || true
}
echo "router up ${DOWN} s before its node; ms from the node listening to the first GET served"
echo "reads only:  $(round 0)"
echo "write first: $(round 1)"
