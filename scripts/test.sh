#!/usr/bin/env bash
# The test command (README): vet, the race-enabled unit and in-process
# multi-group tests of the core packages, the end-to-end and differential
# suites against the built binary (they skip with a message when redis-server,
# redis-cli or python3-redis are missing; CI installs them), and a brief run of
# each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-5s}

go vet ./...
# -p 1: one package at a time. The multi-node tests run real clusters
# in-process with timing-based failure detection; on a 2-core machine,
# packages running side by side starve them and make them flaky.
go test -race -p 1 -count=1 -timeout 20m ./slots/... ./snapshot/... ./fsm/... ./gossip/... ./node/... ./resp/... ./jepsen/...
go test -count=1 -timeout 20m ./cmd/...

# fuzz_one runs one target. Go's fuzzing coordinator sometimes reports
# "context deadline exceeded" when -fuzztime ends while a worker is busy on a
# loaded machine; that is not a finding (no failing input is written), so
# such a run is repeated, up to three attempts. Any real failure fails.
fuzz_one() {
  local log
  log=$(mktemp)
  for attempt in 1 2 3; do
    if go test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" "$1" >"$log" 2>&1; then
      rm -f "$log"; return 0
    fi
    if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
      echo "  (fuzzing engine timed out without a finding; attempt $attempt)"
      continue
    fi
    cat "$log"; rm -f "$log"; exit 1
  done
  cat "$log"; rm -f "$log"; exit 1
}

# Every fuzz target, briefly (seed corpora also run above).
fuzz_targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | sort)
for f in $fuzz_targets; do
  pkg=./$(dirname "${f#./}")
  for t in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $t ($FUZZTIME)"
    fuzz_one "$pkg" "$t"
  done
done
echo "fuzz: all targets ran without failures"
