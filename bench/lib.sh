# Sourced by the bench scripts: a release build in $bin (or, with SHALE=path, that build,
# unbuilt: a baseline to compare with), a scratch $dir, and $pids killed
# (and $dir removed) on exit; `two_node_map A B` writes $dir/map.json with nodes a and b
# on ports A and B holding one shard; `node NAME` starts that node in the background and
# prints its pid; `sharded_map` and `nutcracker_conf` write a two-shard map and a twemproxy
# config over the same two servers (below); `per_request` measures a process's CPU per request;
# `wait_port PORT` waits for a server or proxy to answer; `requests`, `median`, `ratio`,
# `rounds`, `col` and `cols` (below) size, run and summarize interleaved rounds.
cd "$(dirname "$0")/.."
if [ -z "${SHALE:-}" ]; then
  cargo build --release --quiet
fi
bin=${SHALE:-./target/release/shale}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

two_node_map() {
  cat > "$dir/map.json" <<JSON
{"numShards": 1, "nodes": {"a": {"address": "127.0.0.1", "port": $1},
 "b": {"address": "127.0.0.1", "port": $2}}, "shards": {"1": ["a", "b"]}}
JSON
}

# `sharded_map FILE S1 S2` writes a map of two shards, one on each of the shale servers on
# ports S1 and S2 (nodes n1, n2): what the router-vs-twemproxy scripts put both proxies over.
sharded_map() {
  cat > "$1" <<JSON
{"numShards": 2, "nodes": {"n1": {"address": "127.0.0.1", "port": $2},
 "n2": {"address": "127.0.0.1", "port": $3}}, "shards": {"1": ["n1"], "2": ["n2"]}}
JSON
}

# `nutcracker_conf FILE PORT S1 S2` writes a twemproxy config listening on PORT over the
# shale servers on ports S1 and S2, sharded as the router shards (fnv1_32, modula).
nutcracker_conf() {
  cat > "$1" <<YML
shale:
  listen: 127.0.0.1:$2
  hash: fnv1_32
  distribution: modula
  redis: true
  server_connections: 2
  servers:
   - 127.0.0.1:$3:1 n1
   - 127.0.0.1:$4:1 n2
YML
}

# `wait_port PORT [REDIS-CLI FLAGS...]` waits until PING on PORT answers PONG, for up to
# ${WAIT_S:-10} seconds, or ends the script: a measurement of nothing is worse than none.
wait_port() {
  local port=$1
  shift
  for _ in $(seq $((${WAIT_S:-10} * 20))); do
    redis-cli -p "$port" "$@" ping 2>/dev/null | grep -q PONG && return
    sleep 0.05
  done
  echo "nothing answers on port $port" >&2
  exit 1
}

node() { $bin server --shardmap "$dir/map.json" --node "$1" --log-level warn 2>>"$dir/$1.log" >/dev/null & echo $!; }

# CPU time (utime + stime, in clock ticks) of process $1 so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# `measured PID PORT TEST PIPELINE CONNS` runs redis-benchmark on PORT ($N requests of
# TEST, -d 32, -r ${KEYSPACE:-100000}) and prints "ops/s p50_ms us_per_op", the last the
# CPU time process PID spent per request meanwhile.
measured() {
  local before after out
  before=$(cpu_ticks "$1")
  out=$(redis-benchmark -p "$2" -t "$3" -n "$N" -c "$5" -P "$4" -r "${KEYSPACE:-100000}" -d 32 --csv 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); gsub(/"/,"",$5); print $2, $5; exit}')
  after=$(cpu_ticks "$1")
  echo "$out $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$N" \
    'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
}

# `per_request NAME PID N CMD...` runs CMD (a redis-benchmark of N requests with --csv)
# and prints NAME's ops/s and, per request, the user, system and total CPU time and the
# context switches of process PID meanwhile (from /proc).
per_request() {
  local name=$1 pid=$2 n=$3 u0 s0 c0 u1 s1 c1 ops
  shift 3
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat"); c0=$(switches "$pid")
  ops=$("$@" 2>/dev/null | awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}')
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat"); c1=$(switches "$pid")
  awk -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
    -v name="$name" -v ops="$ops" 'BEGIN { printf "%-9s ops/s %9.0f  user %5.2f us  system %5.2f us  total %5.2f us  switches %.3f\n",
    name, ops, u * 1e6 / hz / n, s * 1e6 / hz / n, (u + s) * 1e6 / hz / n, c / n }'
}
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }

# `median V...` prints the median of its numeric arguments (the lower middle of an even
# count): what the compare scripts report over interleaved rounds.
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# `requests PIPELINE` prints how many requests a run at that pipeline depth makes: $N at
# -P 1, $N16 deeper (the scripts that use it set both).
requests() { if [ "$1" -gt 1 ]; then echo "$N16"; else echo "$N"; fi; }

# `ratio A B` prints A/B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# `rounds CMD...` runs CMD ${ROUNDS:-3} times, each printing a line of numbers, into
# $dir/rounds (a line per round); `col N` prints the median of column N there, `cols N`
# the column itself, comma-separated.
rounds() {
  : > "$dir/rounds"
  for _ in $(seq "${ROUNDS:-3}"); do "$@" >> "$dir/rounds"; done
}
col() { median $(awk -v c="$1" '{print $c}' "$dir/rounds"); }
cols() { awk -v c="$1" '{printf "%s%s", (NR > 1 ? "," : ""), $c}' "$dir/rounds"; }
