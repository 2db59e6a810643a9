#!/usr/bin/env bash
# The cost of TLS, in one run on loopback, against one shale server serving a plain and a
# TLS port (and, for reference, redis-server with its tls-port):
#  - redis-benchmark plain and --tls: SET/GET, -c 50, -d 32, -r 100000, -P 1 and 16:
#    ops/s and server CPU per op (utime+stime from /proc over the run / requests)
#  - shale bench (binary protocol through the client library), plain and --tls, same shape
# A throwaway CA and server certificate are made with openssl in a temp dir.
# BASE_BIN=path/to/another/shale also measures that binary's plain port (before/after).
# Not part of CI. INSTALL=1 apt-installs redis-server and redis-tools.
set -euo pipefail
N=${N:-200000}
# -P 16 runs get 5x the requests, so the CPU time (10 ms ticks) is measured to about 1%.
N16=${N16:-$((N * 5))}
THREADS=${THREADS:-1}
PLAIN=${PLAIN:-7392}
TLS=${TLS:-7393}
RPLAIN=${RPLAIN:-7394}
RTLS=${RTLS:-7395}
if [ "${INSTALL:-0}" = 1 ]; then
  apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null
fi
for bin in openssl redis-server redis-benchmark redis-cli; do
  command -v "$bin" >/dev/null || { echo "missing $bin (run with INSTALL=1)"; exit 1; }
done
source "$(dirname "$0")/lib.sh"
tick=$(getconf CLK_TCK)

# CA and a server certificate for localhost / 127.0.0.1 (P-256, one day).
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" -subj /CN=bench-ca -days 1 2>/dev/null
openssl req "${ec[@]}" -keyout "$dir/key.pem" -out "$dir/server.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
  -out "$dir/cert.pem" -days 1 -extfile "$dir/ext" 2>/dev/null
tls_files=(--tls-cert-file "$dir/cert.pem" --tls-key-file "$dir/key.pem" --tls-ca-cert-file "$dir/ca.pem")

per_op() { awk -v t="$1" -v hz="$tick" -v n="$2" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }'; }

$bin server --threads "$THREADS" --port "$PLAIN" --tls-port "$TLS" "${tls_files[@]}" \
  --tls-auth-clients no --log-level warn >/dev/null 2>&1 &
SHALE=$!; pids+=("$SHALE")
redis-server --port "$RPLAIN" --tls-port "$RTLS" --tls-cert-file "$dir/cert.pem" \
  --tls-key-file "$dir/key.pem" --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no \
  --bind 127.0.0.1 --save '' --appendonly no --loglevel warning >/dev/null &
REDIS=$!; pids+=("$REDIS")
if [ -n "${BASE_BIN:-}" ]; then
  BASE_PORT=$((PLAIN + 10))
  "$BASE_BIN" server --threads "$THREADS" --port "$BASE_PORT" --log-level warn >/dev/null 2>&1 &
  BASE=$!; pids+=("$BASE")
  wait_port "$BASE_PORT"
fi
wait_port "$PLAIN"; wait_port "$RPLAIN"
wait_port "$TLS" --tls --cacert "$dir/ca.pem"; wait_port "$RTLS" --tls --cacert "$dir/ca.pem"

# rb PID PORT TEST PIPELINE [--tls ...] -> "ops_per_sec cpu_us_per_op"
rb() {
  local pid=$1 port=$2 test=$3 p=$4 n before after rps
  shift 4
  n=$(requests "$p")
  before=$(cpu_ticks "$pid")
  rps=$(redis-benchmark -p "$port" "$@" -t "$test" -n "$n" -c 50 -P "$p" -r 100000 -d 32 --csv -q 2>/dev/null |
    awk -F'","' 'NR>1 {gsub(/"/,"",$2); print $2; exit}')
  after=$(cpu_ticks "$pid")
  echo "$rps $(per_op $((after - before)) "$n")"
}

# sb PORT TEST PIPELINE [--tls ...] -> "ops_per_sec cpu_us_per_op" (shale bench, binary)
sb() {
  local port=$1 test=$2 p=$3 n before after rps
  shift 3
  n=$(requests "$p")
  before=$(cpu_ticks "$SHALE")
  rps=$($bin bench -p "$port" "$@" -t "$test" -n "$n" -c 50 -P "$p" -r 100000 -d 32 --csv -q |
    awk -F, -v t="${test^^}" '$1 == t {print $6; exit}')
  after=$(cpu_ticks "$SHALE")
  echo "$rps $(per_op $((after - before)) "$n")"
}

tls=(--tls --cacert "$dir/ca.pem")
echo "== redis-benchmark -c 50 -d 32 -r 100000 -n $N (-P 16: $N16); shale --threads $THREADS; CPU = server µs/op"
printf '%-7s %-4s %-3s %11s %11s %6s %9s %9s %6s\n' server test P plain_ops tls_ops ratio plain_us tls_us ratio
for p in 1 16; do
  for t in set get; do
    for who in shale redis; do
      if [ "$who" = shale ]; then pid=$SHALE pp=$PLAIN tp=$TLS; else pid=$REDIS pp=$RPLAIN tp=$RTLS; fi
      read -r po pc <<<"$(rb "$pid" "$pp" "$t" "$p")"
      read -r to tc <<<"$(rb "$pid" "$tp" "$t" "$p" "${tls[@]}")"
      printf '%-7s %-4s %-3s %11s %11s %6s %9s %9s %6s\n' "$who" "$t" "$p" "$po" "$to" \
        "$(ratio "$to" "$po")" "$pc" "$tc" "$(ratio "$tc" "$pc")"
    done
  done
done

echo "== shale bench (binary protocol) -c 50 -d 32 -r 100000 -n $N (-P 16: $N16); CPU = server µs/op"
printf '%-4s %-3s %11s %11s %6s %9s %9s %6s\n' test P plain_ops tls_ops ratio plain_us tls_us ratio
for p in 1 16; do
  for t in set get; do
    read -r po pc <<<"$(sb "$PLAIN" "$t" "$p")"
    read -r to tc <<<"$(sb "$TLS" "$t" "$p" "${tls[@]}")"
    printf '%-4s %-3s %11s %11s %6s %9s %9s %6s\n' "$t" "$p" "$po" "$to" \
      "$(ratio "$to" "$po")" "$pc" "$tc" "$(ratio "$tc" "$pc")"
  done
done

if [ -n "${BASE_BIN:-}" ]; then
  echo "== plain port, this build vs BASE_BIN (redis-benchmark, same settings)"
  printf '%-4s %-3s %11s %11s %6s %9s %9s %6s\n' test P base_ops this_ops ratio base_us this_us ratio
  for p in 1 16; do
    for t in set get; do
      read -r bo bc <<<"$(rb "$BASE" "$BASE_PORT" "$t" "$p")"
      read -r so sc <<<"$(rb "$SHALE" "$PLAIN" "$t" "$p")"
      printf '%-4s %-3s %11s %11s %6s %9s %9s %6s\n' "$t" "$p" "$bo" "$so" \
        "$(ratio "$so" "$bo")" "$bc" "$sc" "$(ratio "$sc" "$bc")"
    done
  done
fi
