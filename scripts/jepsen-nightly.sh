#!/usr/bin/env bash
# The long tier of the Jepsen harness (not in CI; about 75 minutes): 46
# runs of 60 s on 5 nodes across every workload Troika implements and every
# nemesis alone and combined, then the full self-test (every planted bug
# within its budget, the unmodified server valid).
#
#   scripts/jepsen-nightly.sh                   # seeds from the date
#   SEED=42 LIMIT=60 STORE=/tmp/jn scripts/jepsen-nightly.sh
#
# Prints one line per run and a table at the end; exits 1 if any run was
# invalid or could not be carried out. Results folders stay in $STORE.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-store/jepsen-nightly}
SEED=${SEED:-$(date +%Y%m%d)}
LIMIT=${LIMIT:-60}
NODES=${NODES:-5}

mkdir -p bin "$STORE"
go build -o bin/troika-jepsen ./cmd/troika-jepsen
CGO_ENABLED=0 go build -o bin/troika-server-static ./cmd/troika-server

workloads=(list-append register bank counter ttl)
nemeses=(
  partition kill pause membership transfer clock
  partition:ring partition:leader kill:all pause:leader
  partition,kill,pause partition,kill,pause,membership,transfer,clock
)
# 46 runs: every workload under its share of the nemeses, list-append and
# register under all of them.
plan=()
for nem in "${nemeses[@]}"; do plan+=("list-append $nem" "register $nem"); done
for nem in partition kill pause membership transfer clock partition,kill,pause partition,kill,pause,membership,transfer,clock; do
  for wl in bank counter ttl; do
    case "$wl/$nem" in
      bank/clock|counter/clock) continue ;;
    esac
    plan+=("$wl $nem")
  done
done

results=()
bad=0
seed=$SEED
for entry in "${plan[@]}"; do
  read -r wl nem <<<"$entry"
  echo "=== jepsen nightly: $wl under $nem (seed $seed)"
  set +e
  bin/troika-jepsen test --server-binary bin/troika-server-static --store "$STORE" --nodes "$NODES" \
    --workload "$wl" --nemesis "$nem" --time-limit "$LIMIT" --seed "$seed" >"$STORE/last.txt" 2>&1
  rc=$?
  set -e
  cat "$STORE/last.txt"
  case $rc in 0) verdict=valid ;; 1) verdict=INVALID; bad=1 ;; *) verdict=ERROR; bad=1 ;; esac
  results+=("$(printf '%-8s %-12s %-50s seed %s' "$verdict" "$wl" "$nem" "$seed")")
  seed=$((seed + 1))
done

echo "=== jepsen nightly: self-test"
if ! bin/troika-jepsen selftest --server-binary bin/troika-server-static --store "$STORE" --time-limit 30 --seed "$SEED"; then
  results+=("FAILED   selftest")
  bad=1
fi

echo
echo "jepsen nightly: ${#plan[@]} runs of ${LIMIT}s"
printf '%s\n' "${results[@]}"
exit $bad
