#!/usr/bin/env bash
# Start a local Troika cluster in the foreground; Ctrl-C stops it.
#
#   scripts/cluster-up.sh            # one node on 127.0.0.1:7000
#   DATA=/tmp/troika scripts/cluster-up.sh
#
# Data lives under $DATA/<port> (default ./data). Restarting on the same
# folder brings the node back with its data and identity. (Multi-node
# clusters arrive with the cluster work: then `scripts/cluster-up.sh 3`.)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1}
if [ "$N" != 1 ]; then
  echo "only single-node clusters are supported so far (got $N)" >&2; exit 2
fi
DATA=${DATA:-./data}
PORT=${PORT:-7000}
mkdir -p bin "$DATA/$PORT"
go build -o bin/troika-server ./cmd/troika-server
echo "starting troika-server on 127.0.0.1:$PORT (data: $DATA/$PORT); Ctrl-C to stop"
echo "try: redis-cli -c -p $PORT set hello world"
exec bin/troika-server --port "$PORT" --dir "$DATA/$PORT"
