#!/usr/bin/env bash
# The CI smoke tier of the Jepsen harness (run by .ci/run; about 6 minutes):
# list-append and register, each under partition, kill and pause, 30 s per
# run on 5 nodes, then the self-test's fastest planted bug (retry-proposals)
# must be reported as an anomaly.
#
#   scripts/jepsen-smoke.sh                 # seeds 1.. (SEED=<n> to change)
#   STORE=/tmp/js scripts/jepsen-smoke.sh   # results folders there
#
# It needs root (network namespaces) or a Docker engine; without either it
# says so and exits 0, as the docker smoke test does. Any invalid run, or a
# run that could not be carried out, fails it; the results folders stay in
# $STORE for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-store/jepsen-smoke}
SEED=${SEED:-1}
LIMIT=${LIMIT:-30}

if [ "$(id -u)" != 0 ] && ! { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }; then
  echo "jepsen smoke: skipped (needs root for network namespaces, or a usable Docker engine)"
  exit 0
fi

mkdir -p bin "$STORE"
go build -o bin/troika-jepsen ./cmd/troika-jepsen
CGO_ENABLED=0 go build -o bin/troika-server-static ./cmd/troika-server

failed=()
seed=$SEED
for wl in list-append register; do
  for nem in partition kill pause; do
    echo "=== jepsen smoke: $wl under $nem (seed $seed, ${LIMIT}s)"
    if ! bin/troika-jepsen test --server-binary bin/troika-server-static --store "$STORE" \
        --nodes 5 --workload "$wl" --nemesis "$nem" --time-limit "$LIMIT" --concurrency 10 --seed "$seed"; then
      failed+=("$wl/$nem (seed $seed)")
    fi
    seed=$((seed + 1))
  done
done

echo "=== jepsen smoke: self-test, fastest planted bug"
if ! bin/troika-jepsen selftest --server-binary bin/troika-server-static --store "$STORE" \
    --bugs retry-proposals --time-limit "$LIMIT" --seed "$SEED"; then
  failed+=("selftest retry-proposals")
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "jepsen smoke FAILED: ${failed[*]} (results under $STORE)"
  exit 1
fi
echo "jepsen smoke: all runs valid, planted bug detected"
