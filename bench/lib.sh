# Sourced by the bench scripts: a release build in $bin (or, with SHALE=path, that build,
# unbuilt: a baseline to compare with), a scratch $dir, and $pids killed
# (and $dir removed) on exit; `two_node_map A B` writes $dir/map.json with nodes a and b
# on ports A and B holding one shard; `node NAME` starts that node in the background and
# prints its pid.
cd "$(dirname "$0")/.."
if [ -z "${SHALE:-}" ]; then
  cargo build --release --quiet
fi
bin=${SHALE:-./target/release/shale}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

two_node_map() {
  cat > "$dir/map.json" <<JSON
{"numShards": 1, "nodes": {"a": {"address": "127.0.0.1", "port": $1},
 "b": {"address": "127.0.0.1", "port": $2}}, "shards": {"1": ["a", "b"]}}
JSON
}

node() { $bin server --shardmap "$dir/map.json" --node "$1" --log-level warn 2>>"$dir/$1.log" >/dev/null & echo $!; }
