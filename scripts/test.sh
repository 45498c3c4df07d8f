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
go test -race -count=1 ./slots/... ./snapshot/... ./fsm/... ./node/... ./resp/...
go test -count=1 ./cmd/...

# name package: every fuzz target, briefly (seed corpora also run above).
fuzz_targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | sort)
for f in $fuzz_targets; do
  pkg=./$(dirname "${f#./}")
  for t in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $t ($FUZZTIME)"
    go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/troika-fuzz.log 2>&1 || { cat /tmp/troika-fuzz.log; exit 1; }
  done
done
echo "fuzz: all targets ran without failures"
