#!/usr/bin/env bash
# Differential check against a real redis-server (bench/redis-diff.py): the same random
# commands to a shale server and to redis-server, every differing reply listed once.
# Not part of CI. INSTALL=1 apt-installs redis-server; needs redis-py (tests/requirements.txt).
#
#   BASE=17800 N=20000 SEED=2 bench/redis-diff.sh
set -euo pipefail
BASE=${BASE:-7800}
N=${N:-20000}
SEED=${SEED:-1}
[ "${INSTALL:-0}" = 1 ] && apt-get install -y -qq redis-server >/dev/null
command -v redis-server >/dev/null || { echo "missing redis-server (INSTALL=1)"; exit 1; }
source "$(dirname "$0")/lib.sh"
S=$((BASE + 1)); R=$((BASE + 2))
"$bin" server --port "$S" --log-level warn & pids+=($!)
redis-server --port "$R" --save '' --appendonly no --logfile "$dir/redis.log" & pids+=($!)
for port in "$S" "$R"; do
  wait_port "$port"
done
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), $N commands, seed $SEED"
python3 "$(dirname "$0")/redis-diff.py" "$S" "$R" "$N" "$SEED"
