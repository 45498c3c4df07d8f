#!/usr/bin/env bash
# Smoke test of the container image and docker-compose.yml:
#
#   1. build the image (scripts/docker-build.sh; nothing is pulled);
#   2. start the compose cluster under a unique project name, on a free /24
#      and random loopback host ports (nodes 2 and 3 first: they must keep
#      retrying to join until node 1 is up);
#   3. wait (bounded) for cluster_state:ok and 3 known nodes on every node,
#      check CLUSTER NODES lists the 3 announced addresses, and the
#      published client port;
#   4. write 200 keys with `redis-cli -c` against the container IPs (each
#      through one node, read back through another);
#   5. wait (bounded) until every Raft group has 3 voters, `docker kill` one
#      node and check, within a bounded time, that writes succeed again
#      through the two others and that the 200 keys are all still readable
#      (until the cluster marks the node failed, redirections may point at
#      its vanished IP: such a call gives up after 10 s and is retried);
#   6. tear everything down (`down -v`), also on failure or Ctrl-C.
#
# It exits 0 with "skipped: ..." when there is no usable Docker engine
# (`docker info` fails), no compose tool (`docker compose` or
# `docker-compose`), or no redis-cli. Works from any directory. Needs Go,
# and a host that routes to the bridge network's container IPs (any Linux
# host running Docker itself; not Docker Desktop or rootless Docker).
#
# Knobs (environment): TROIKA_IMAGE (troika:dev), SMOKE_KILL (node to kill,
# 1..3; default 1, the node that bootstrapped the cluster), SMOKE_WAIT
# (seconds to wait for the cluster, 60), SMOKE_FAILOVER_WAIT (seconds for
# writes to succeed after the kill, 60), SMOKE_KEEP=1 (leave the cluster
# running on success, to poke at it; it prints how to remove it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { echo "docker-smoke: $*"; }
skip() { say "skipped: $*"; exit 0; }

if ! command -v docker >/dev/null 2>&1; then
  skip "no docker command"
fi
if ! docker info >/dev/null 2>&1; then
  skip "no usable Docker engine (docker info failed${DOCKER_HOST:+ for DOCKER_HOST=$DOCKER_HOST})"
fi
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
  compose=(docker-compose)
else
  skip "no compose tool (neither 'docker compose' nor 'docker-compose' works)"
fi
if ! command -v redis-cli >/dev/null 2>&1; then
  skip "no redis-cli (apt-get install redis-tools)"
fi

image=${TROIKA_IMAGE:-troika:dev}
kill_node=${SMOKE_KILL:-1}
cluster_wait=${SMOKE_WAIT:-60}
failover_wait=${SMOKE_FAILOVER_WAIT:-60}
case "$kill_node" in 1|2|3) ;; *) echo "SMOKE_KILL must be 1, 2 or 3" >&2; exit 2;; esac
started=$SECONDS

# ---- build ---------------------------------------------------------------
say "building image $image"
"$root/scripts/docker-build.sh" "$image"

# ---- pick a free subnet --------------------------------------------------
ip2int() { local IFS=.; local a b c d; read -r a b c d <<<"$1"; echo $(( (a << 24) | (b << 16) | (c << 8) | d )); }
# overlaps A/len B/len: whether two IPv4 CIDRs share an address.
overlaps() {
  local n1=${1%/*} l1=${1#*/} n2=${2%/*} l2=${2#*/}
  [ "$l1" = "$1" ] && l1=32
  [ "$l2" = "$2" ] && l2=32
  local m=$(( l1 < l2 ? l1 : l2 ))
  local mask=$(( m == 0 ? 0 : (0xffffffff << (32 - m)) & 0xffffffff ))
  (( ($(ip2int "$n1") & mask) == ($(ip2int "$n2") & mask) ))
}
used_subnets() {
  local ids
  ids=$(docker network ls -q)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' $ids
  if command -v ip >/dev/null 2>&1; then ip -4 route show | awk '$1 != "default" {print $1}'; fi
}
# free_prefix [skip...]: first three octets of a /24 under 172.28.0.0/16
# (else 10.213.0.0/16) that overlaps no Docker network and no route of this
# host, starting at a random place so that concurrent runs rarely collide.
free_prefix() {
  local used start base k x cand u clash
  used=$(used_subnets | tr ' ' '\n' | grep -E '^[0-9.]+(/[0-9]+)?$' || true)
  start=$(( RANDOM % 256 ))
  for base in 172.28 10.213; do
    for k in $(seq 0 255); do
      x=$(( (start + k) % 256 ))
      cand="$base.$x"
      case " $* " in *" $cand "*) continue;; esac
      clash=
      for u in $used; do
        if overlaps "$cand.0/24" "$u"; then clash=1; break; fi
      done
      [ -n "$clash" ] || { echo "$cand"; return 0; }
    done
  done
  return 1
}

# ---- bring the cluster up --------------------------------------------------
project="troikasmoke$$$(date +%s)"
dc=("${compose[@]}" -p "$project" -f "$root/docker-compose.yml")
export TROIKA_IMAGE=$image
# Empty host ports: each client port is published on a random free
# 127.0.0.1 port, so a cluster on 7001-7003 (or anything else) is no obstacle.
export TROIKA_PORT1='' TROIKA_PORT2='' TROIKA_PORT3=''

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    say "FAILED (exit $rc); state and last log lines of the nodes:"
    "${dc[@]}" ps 2>&1 || true
    "${dc[@]}" logs --no-color --tail 40 2>&1 | cut -c1-400 || true
  fi
  if [ "$rc" -eq 0 ] && [ "${SMOKE_KEEP:-}" = 1 ]; then
    say "left running (SMOKE_KEEP=1); remove with: TROIKA_NET_PREFIX=${TROIKA_NET_PREFIX:-} ${dc[*]} down -v"
    exit 0
  fi
  say "tearing down project $project"
  "${dc[@]}" kill >/dev/null 2>&1 || true
  "${dc[@]}" down -v --remove-orphans >/dev/null 2>&1 || say "warning: '${dc[*]} down -v' failed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { say "FAIL: $*"; exit 1; }

tried=()
for attempt in 1 2 3 4 5; do
  prefix=$(free_prefix "${tried[@]+"${tried[@]}"}") || fail "no free /24 under 172.28.0.0/16 or 10.213.0.0/16"
  tried+=("$prefix")
  export TROIKA_NET_PREFIX=$prefix
  say "project $project on $prefix.0/24; starting node2 and node3 before node1"
  if out=$("${dc[@]}" up -d node2 node3 2>&1); then break; fi
  echo "$out"
  "${dc[@]}" down -v >/dev/null 2>&1 || true
  # Another network grabbed the subnet in between: try another one.
  echo "$out" | grep -qiE 'overlap|address already in use|in use' || fail "compose up failed"
  [ "$attempt" -lt 5 ] || fail "compose up failed 5 times"
done
ips=("$prefix.11" "$prefix.12" "$prefix.13")
sleep 3
for n in 2 3; do
  state=$(docker inspect -f '{{.State.Status}}' "$("${dc[@]}" ps -q "node$n")")
  [ "$state" = running ] || fail "node$n is $state while node1 is not up yet"
done
say "node2 and node3 are waiting to join; starting node1"
"${dc[@]}" up -d node1 >/dev/null 2>&1 || { "${dc[@]}" up -d node1; fail "compose up node1 failed"; }

# cli HOST ARGS...: one redis-cli -c call (bounded), redirection notices dropped.
cli() {
  local h=$1; shift
  timeout 10 redis-cli -c -h "$h" -p 6379 "$@" 2>&1 | grep -v '^-> Redirected' || true
}

# ---- wait for the cluster ------------------------------------------------
say "waiting up to ${cluster_wait}s for cluster_state:ok and 3 known nodes on ${ips[*]}"
deadline=$((SECONDS + cluster_wait))
while :; do
  ready=0 status=()
  for h in "${ips[@]}"; do
    info=$(timeout 3 redis-cli -h "$h" -p 6379 cluster info 2>&1 | tr -d '\r' || true)
    st=$(echo "$info" | sed -n 's/^cluster_state://p')
    kn=$(echo "$info" | sed -n 's/^cluster_known_nodes://p')
    status+=("$h:${st:-down}/${kn:-?}")
    [ "$st" = ok ] && [ "$kn" = 3 ] && ready=$((ready + 1))
  done
  [ "$ready" -eq 3 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    fail "cluster not ready after ${cluster_wait}s (state/known nodes: ${status[*]})"
  fi
  sleep 1
done
say "cluster ready ($((SECONDS - started))s since start): ${status[*]}"

for h in "${ips[@]}"; do
  nodes=$(timeout 5 redis-cli -h "$h" -p 6379 cluster nodes 2>&1 | tr -d '\r' || true)
  count=$(echo "$nodes" | grep -cE ' connected( |$)' || true)
  [ "$count" -eq 3 ] || { echo "$nodes"; fail "CLUSTER NODES on $h lists $count connected nodes, want 3"; }
  for want in "${ips[@]}"; do
    echo "$nodes" | grep -q " $want:6379@16379 " || { echo "$nodes"; fail "CLUSTER NODES on $h lacks $want:6379@16379"; }
  done
  if echo "$nodes" | grep -qE ' [a-z,]*fail'; then echo "$nodes"; fail "CLUSTER NODES on $h flags a node as failing"; fi
done
say "CLUSTER NODES lists the 3 nodes on every node:"
timeout 5 redis-cli -h "${ips[0]}" -p 6379 cluster nodes | sed 's/^/    /'

hp=$("${dc[@]}" port node1 6379 | tail -n 1 | tr -d '\r')
pong=$(timeout 5 redis-cli -h 127.0.0.1 -p "${hp##*:}" ping 2>&1 || true)
[ "$pong" = PONG ] || fail "published client port $hp of node1 answered '$pong'"
say "node1's client port is published on $hp (PING -> PONG)"

# ---- writes and reads ----------------------------------------------------
errors=0
note() { errors=$((errors + 1)); [ "$errors" -gt 5 ] || say "  transient: $*"; }
val() { echo "v$1-$project"; }

# set_keys BOUND NAME...: SET every key (value val NAME) through the nodes in
# ${via[@]} in turn, retrying failed keys until BOUND seconds have passed.
set_keys() {
  local bound=$1; shift
  local end=$((SECONDS + bound)) pending=("$@") next k r i=0 h
  while :; do
    next=()
    for k in "${pending[@]}"; do
      h=${via[i++ % ${#via[@]}]}
      r=$(cli "$h" set "$k" "$(val "$k")")
      [ "$r" = OK ] || { next+=("$k"); note "SET $k via $h: ${r:-no reply within 10s}"; }
    done
    [ ${#next[@]} -eq 0 ] && return 0
    [ "$SECONDS" -lt "$end" ] || fail "${#next[@]} SETs still failing after ${bound}s (first: ${next[0]})"
    pending=("${next[@]}")
    sleep 1
  done
}
# get_keys BOUND NAME...: GET every key through the nodes in ${via[@]} in
# turn and compare, retrying until BOUND seconds have passed.
get_keys() {
  local bound=$1; shift
  local end=$((SECONDS + bound)) pending=("$@") next k r i=0 h
  while :; do
    next=()
    for k in "${pending[@]}"; do
      h=${via[i++ % ${#via[@]}]}
      r=$(cli "$h" get "$k")
      [ "$r" = "$(val "$k")" ] || { next+=("$k"); note "GET $k via $h: ${r:-no reply within 10s}"; }
    done
    [ ${#next[@]} -eq 0 ] && return 0
    [ "$SECONDS" -lt "$end" ] || fail "${#next[@]} GETs still wrong after ${bound}s (first: ${next[0]})"
    pending=("${next[@]}")
    sleep 1
  done
}

keys=()
for i in $(seq 1 200); do keys+=("smoke:$i"); done
say "writing 200 keys with redis-cli -c via ${ips[*]} in turn"
via=("${ips[@]}")
set_keys 30 "${keys[@]}"
say "reading them back, each through another node"
via=("${ips[1]}" "${ips[2]}" "${ips[0]}")
get_keys 30 "${keys[@]}"
say "200 keys written and read back ($errors transient errors)"

# ---- wait for full replication ---------------------------------------------
# cluster_state:ok does not mean every group already has its 3 replicas (a
# fresh cluster starts with one replica per group on node1 and adds the
# others as nodes join): killing a node before then would take groups down
# for good. INFO raft has one line per group ending in voters=N.
say "waiting up to ${cluster_wait}s for every Raft group to have 3 voters on every node"
deadline=$((SECONDS + cluster_wait))
while :; do
  full=0 summary=()
  for h in "${ips[@]}"; do
    raft=$(timeout 3 redis-cli -h "$h" -p 6379 info raft 2>&1 | tr -d '\r' | grep -E '^[a-z_0-9]+:.*voters=' || true)
    total=$(echo "$raft" | grep -c 'voters=' || true)
    three=$(echo "$raft" | grep -c 'voters=3$' || true)
    summary+=("$h:$three/$total")
    [ "$total" -gt 0 ] && [ "$three" -eq "$total" ] && full=$((full + 1))
  done
  [ "$full" -eq 3 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    fail "groups not replicated 3 ways after ${cluster_wait}s (groups with 3 voters/groups: ${summary[*]})"
  fi
  sleep 1
done
say "every group has 3 voters (${summary[*]})"

# ---- kill a node -------------------------------------------------------------
victim=$("${dc[@]}" ps -q "node$kill_node")
survivors=()
for n in 1 2 3; do [ "$n" -eq "$kill_node" ] || survivors+=("${ips[n - 1]}"); done
say "docker kill node$kill_node (${ips[kill_node - 1]}); writing through ${survivors[*]} for up to ${failover_wait}s"
docker kill "$victim" >/dev/null
killed_at=$SECONDS
via=("${survivors[@]}")
deadline=$((SECONDS + failover_wait))
round=0 errors=0
while :; do
  round=$((round + 1))
  ok=0 last=
  # A round succeeds when 30 consecutive writes do; the first failure ends it.
  for j in $(seq 1 30); do
    h=${via[j % 2]}
    k="smoke:after:$round:$j"
    r=$(cli "$h" set "$k" "$(val "$k")")
    if [ "$r" = OK ]; then ok=$((ok + 1)); else last="SET $k via $h: ${r:-no reply within 10s (redirected to the killed node?)}"; break; fi
    [ "$SECONDS" -lt "$deadline" ] || break
  done
  [ "$ok" -eq 30 ] && break
  [ -n "$last" ] && note "$last"
  [ "$SECONDS" -lt "$deadline" ] || fail "writes still failing ${failover_wait}s after the kill (last: ${last:-too slow})"
  sleep 1
done
say "writes succeed again $((SECONDS - killed_at))s after the kill (round $round, $errors failed attempts before)"
after=()
for j in $(seq 1 30); do after+=("smoke:after:$round:$j"); done
say "reading the 200 keys and the 30 new ones through the survivors"
get_keys 30 "${keys[@]}" "${after[@]}"
for h in "${survivors[@]}"; do
  st=$(timeout 3 redis-cli -h "$h" -p 6379 cluster info 2>&1 | tr -d '\r' | sed -n 's/^cluster_state://p' || true)
  say "  $h: cluster_state:${st:-?}"
done
say "CLUSTER NODES on ${survivors[0]} after the kill:"
timeout 5 redis-cli -h "${survivors[0]}" -p 6379 cluster nodes 2>&1 | sed 's/^/    /' || true

say "PASS in $((SECONDS - started))s"
