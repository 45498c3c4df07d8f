#!/usr/bin/env bash
# Start a local Troika cluster in the foreground; Ctrl-C stops it.
#
#   scripts/cluster-up.sh            # 3 nodes on 127.0.0.1:7000-7002
#   scripts/cluster-up.sh 1          # one node on 127.0.0.1:7000
#   scripts/cluster-up.sh 5          # 5 nodes on 7000-7004
#   DATA=/tmp/troika PORT=7100 scripts/cluster-up.sh 3
#
# Node i listens on PORT+i (client) and PORT+i+10000 (cluster bus), with
# its data under $DATA/<port> (default ./data) and its log in
# $DATA/<port>/troika.log. The first node bootstraps the cluster; the others
# join it with --cluster-join. Restarting on the same folders brings the
# nodes back with their data and identities. Extra arguments after N are
# passed to every node (e.g. --cluster-node-timeout 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
shift || true
case "$N" in ''|*[!0-9]*) echo "usage: $0 [nodes] [--directive value ...]" >&2; exit 2;; esac
if [ "$N" -lt 1 ]; then echo "need at least one node" >&2; exit 2; fi
DATA=${DATA:-./data}
PORT=${PORT:-7000}
mkdir -p bin
go build -o bin/troika-server ./cmd/troika-server

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping ${#pids[@]} node(s)"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

for i in $(seq 0 $((N - 1))); do
  p=$((PORT + i))
  mkdir -p "$DATA/$p"
  join=()
  if [ "$i" -gt 0 ]; then
    join=(--cluster-join "127.0.0.1:$PORT") # on a restart it only rejoins gossip
  fi
  bin/troika-server --port "$p" --dir "$DATA/$p" --logfile "$DATA/$p/troika.log" "${join[@]}" "$@" &
  pids+=($!)
  if [ "$i" -eq 0 ]; then
    for _ in $(seq 1 100); do
      redis-cli -p "$p" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
done
echo "troika: $N node(s) on 127.0.0.1:$PORT-$((PORT + N - 1)) (data and logs under $DATA); Ctrl-C to stop"
echo "try: redis-cli -c -p $PORT set hello world; redis-cli -p $PORT cluster nodes"
wait
