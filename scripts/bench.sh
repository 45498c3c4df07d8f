#!/usr/bin/env bash
# Benchmark Troika beside redis-server on this machine, in one run, and print
# each figure with the ratio Troika/Redis.
#
#   scripts/bench.sh            # default: 200000 requests, 50 clients
#   N=50000 scripts/bench.sh    # quicker
#
# Needs redis-server, redis-benchmark and redis-cli (Debian: redis-server
# redis-tools). Nothing here is a test: figures vary with the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
CLIENTS=${CLIENTS:-50}
KEYS=${KEYS:-1000000}
GROUPS_N=${GROUPS_N:-16}
BASE=${BASE_PORT:-16390}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/troika-server" ./cmd/troika-server

P_REDIS=$BASE P_AOF=$((BASE+1)) P_TROIKA=$((BASE+2))
redis-server --port $P_REDIS --save '' --appendonly no --dir "$work" --logfile "$work/redis.log" & pids+=($!)
mkdir -p "$work/aof"
redis-server --port $P_AOF --save '' --appendonly yes --appendfsync always --dir "$work/aof" --logfile "$work/aof.log" & pids+=($!)
mkdir -p "$work/troika"
"$work/troika-server" --port $P_TROIKA --dir "$work/troika" --cluster-groups "$GROUPS_N" --logfile "$work/troika.log" & pids+=($!)

wait_ready() { # port
  for _ in $(seq 1 300); do
    if redis-cli -p "$1" ping >/dev/null 2>&1; then
      if ! redis-cli -p "$1" cluster info 2>/dev/null | grep -q cluster_state:fail; then return 0; fi
    fi
    sleep 0.1
  done
  echo "server on port $1 did not become ready" >&2; exit 1
}
wait_ready $P_REDIS; wait_ready $P_AOF; wait_ready $P_TROIKA

rps() { # port test pipeline -> requests per second
  timeout 300 redis-benchmark -p "$1" -t "$2" -n "$N" -c "$CLIENTS" -P "$3" -r 100000 -d 10 -q 2>/dev/null \
    | tr '\r' '\n' | awk -v t="$(echo "$2" | tr a-z A-Z)" '$1==t":" {v=$2} END {print v+0}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b>0) printf "%.2f", a/b; else print "n/a" }'; }

printf '%-28s %14s %14s %8s\n' "benchmark (rps)" "troika" "redis" "ratio"
line() { printf '%-28s %14s %14s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

g1_t=$(rps $P_TROIKA get 1);  g1_r=$(rps $P_REDIS get 1)
line "GET P1 vs redis" "$g1_t" "$g1_r"
g16_t=$(rps $P_TROIKA get 16); g16_r=$(rps $P_REDIS get 16)
line "GET P16 vs redis" "$g16_t" "$g16_r"
s1_t=$(rps $P_TROIKA set 1);  s1_a=$(rps $P_AOF set 1)
line "SET P1 vs redis fsync" "$s1_t" "$s1_a"
s16_t=$(rps $P_TROIKA set 16); s16_a=$(rps $P_AOF set 16)
line "SET P16 vs redis fsync" "$s16_t" "$s16_a"
s1_r=$(rps $P_REDIS set 1)
line "SET P1 vs redis no-fsync" "$s1_t" "$s1_r"
printf '%-28s %14s\n' "troika SET P16/P1" "$(ratio "$s16_t" "$s1_t")"

# Memory: bytes per key for $KEYS keys (key:N -> 10-byte value).
mem() { redis-cli -p "$1" memory purge >/dev/null; redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }
load() { # port
  awk -v n="$KEYS" 'BEGIN { for (i=0;i<n;i++) printf "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$10\r\nxxxxxxxxxx\r\n", length("key:" i), i }' \
    | redis-cli -p "$1" --pipe >/dev/null
}
redis-cli -p $P_TROIKA flushall >/dev/null; redis-cli -p $P_REDIS flushall >/dev/null
m0_t=$(mem $P_TROIKA); m0_r=$(mem $P_REDIS)
load $P_TROIKA; load $P_REDIS
m1_t=$(mem $P_TROIKA); m1_r=$(mem $P_REDIS)
bpk_t=$(( (m1_t - m0_t) / KEYS )); bpk_r=$(( (m1_r - m0_r) / KEYS ))
printf '%-28s %14s %14s %8s\n' "bytes/key ($KEYS keys)" "$bpk_t" "$bpk_r" "$(ratio "$bpk_t" "$bpk_r")"

# A Troika cluster of $CLUSTER_NODES nodes on this machine (every group
# replicated $CLUSTER_NODES-fold, all nodes sharing these cores and this
# disk), driven by redis-benchmark --cluster, against the same redis figures.
# CLUSTER_NODES=0 skips it.
CLUSTER_NODES=${CLUSTER_NODES:-3}
if [ "$CLUSTER_NODES" -gt 1 ]; then
  cbase=$((BASE + 10))
  for i in $(seq 0 $((CLUSTER_NODES - 1))); do
    p=$((cbase + i))
    mkdir -p "$work/c$i"
    join=()
    [ "$i" -gt 0 ] && join=(--cluster-join "127.0.0.1:$cbase")
    "$work/troika-server" --port "$p" --cluster-port $((p + 1000)) --dir "$work/c$i" --cluster-groups "$GROUPS_N" \
      --logfile "$work/c$i.log" "${join[@]}" & pids+=($!)
    [ "$i" -eq 0 ] && wait_ready "$p"
  done
  # Ready when every group has $CLUSTER_NODES voters (at most 3) everywhere.
  want=$(( CLUSTER_NODES < 3 ? CLUSTER_NODES : 3 ))
  for _ in $(seq 1 600); do
    leaders=0
    for i in $(seq 0 $((CLUSTER_NODES - 1))); do
      leaders=$((leaders + $(redis-cli -p $((cbase + i)) info raft 2>/dev/null | tr -d '\r' | grep -c "^group_.*role=leader.*voters=$want" || true)))
    done
    [ "$leaders" -eq "$GROUPS_N" ] && break
    sleep 0.2
  done
  sleep 3 # let leadership balancing finish
  crps() { # test pipeline
    timeout 300 redis-benchmark --cluster -p "$cbase" -t "$1" -n "$N" -c "$CLIENTS" -P "$2" -r 100000 -d 10 -q 2>/dev/null \
      | tr '\r' '\n' | awk -v t="$(echo "$1" | tr a-z A-Z)" '$1==t":" && $3=="requests" {v=$2} END {print v+0}'
  }
  echo
  echo "troika cluster: $CLUSTER_NODES nodes, $want replicas per group, all on this machine (redis-benchmark --cluster)"
  line "cluster GET P1 vs redis" "$(crps get 1)" "$g1_r"
  line "cluster GET P16 vs redis" "$(crps get 16)" "$g16_r"
  cs1=$(crps set 1); cs16=$(crps set 16)
  line "cluster SET P1 vs redis fsync" "$cs1" "$s1_a"
  line "cluster SET P16 vs redis fsync" "$cs16" "$s16_a"
  printf '%-28s %14s\n' "cluster SET P16/P1" "$(ratio "$cs16" "$cs1")"
fi
