#!/usr/bin/env bash
# A corosync cluster of N nodes on one machine, for the ClusterFS replication tests (see RUNBOOK):
# one network namespace per node, veth into a bridge that lives in its own namespace, one corosync per
# node with a private /run (its pid file path is fixed), quorum from votequorum. Addresses exist only
# inside these namespaces. Everything made is recorded in DIR and removed by `down`.
#
#   cluster.sh up N DIR      start N nodes (N <= 9); waits until all are quorate
#   cluster.sh net N DIR     only the namespaces and the bridge (nodes whose corrald starts corosync),
#                            with a veth from this namespace into the bridge (SUBNET.254) so tests reach them
#   cluster.sh up-host N DIR like up, plus that veth (tests that call the nodes' API)
#   cluster.sh down DIR      stop corosync, remove namespaces, veths, /dev/shm/qb-* of its pids
#   cluster.sh status DIR    corosync-quorumtool of every node
#   cluster.sh exec I DIR CMD...   run CMD in node I's namespace with its /run (where corosync's IPC is)
#   cluster.sh kill I DIR / start I DIR   kill -9 / restart node I's corosync
set -euo pipefail
prefix=${CORRAL_CLUSTER_PREFIX:-corral}
subnet=${CORRAL_CLUSTER_SUBNET:-10.213.7}

ns() { echo "${prefix}n$1"; }
bridge_ns="${prefix}br"

write_config() {
  local n=$1 dir=$2
  {
    echo "totem {"
    echo "  version: 2"
    echo "  cluster_name: ${prefix}-test"
    echo "  transport: knet"
    echo "  crypto_cipher: none"
    echo "  crypto_hash: none"
    echo "  token: 1000"
    echo "}"
    echo "nodelist {"
    for i in $(seq 1 "$n"); do
      printf '  node {\n    ring0_addr: %s\n    name: n%s\n    nodeid: %s\n  }\n' "${subnet}.${i}" "$i" "$i"
    done
    echo "}"
    printf 'quorum {\n  provider: corosync_votequorum\n}\n'
    printf 'logging {\n  to_stderr: yes\n  to_syslog: no\n  to_logfile: no\n  timestamp: on\n}\n'
  } > "$dir/corosync.conf"
}

start_node() {
  local i=$1 dir=$2
  local node="$dir/n$i"
  mkdir -p "$node/run" "$node/state"
  { cat "$dir/corosync.conf"; printf 'system {\n  state_dir: %s\n}\n' "$node/state"; } > "$node/corosync.conf"
  ip netns exec "$(ns "$i")" sh -c "mount --bind '$node/run' /run && exec corosync -f -c '$node/corosync.conf'" \
    >"$node/corosync.log" 2>&1 &
  echo $! > "$node/corosync.pid"
}

node_exec() {
  local i=$1 dir=$2; shift 2
  ip netns exec "$(ns "$i")" sh -c "mount --bind '$dir/n$i/run' /run && exec \"\$@\"" sh "$@"
}

net() {
  local n=$1 dir=$2
  [ "$n" -ge 1 ] && [ "$n" -le 9 ] || { echo "N must be 1..9" >&2; exit 2; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  echo "$n" > "$dir/nodes"
  ip netns add "$bridge_ns"
  ip -n "$bridge_ns" link add br0 type bridge
  ip -n "$bridge_ns" link set br0 up
  ip -n "$bridge_ns" link set lo up
  for i in $(seq 1 "$n"); do
    ip netns add "$(ns "$i")"
    ip link add "${prefix}v$i" type veth peer name "${prefix}p$i"
    ip link set "${prefix}v$i" netns "$(ns "$i")"
    ip link set "${prefix}p$i" netns "$bridge_ns"
    ip -n "$bridge_ns" link set "${prefix}p$i" master br0 up
    ip -n "$(ns "$i")" link set lo up
    ip -n "$(ns "$i")" link set "${prefix}v$i" name eth0
    ip -n "$(ns "$i")" addr add "${subnet}.${i}/24" dev eth0
    ip -n "$(ns "$i")" link set eth0 up
  done
}

up() {
  local n=$1 dir=$2
  net "$n" "$dir"
  dir=$(cd "$dir" && pwd)
  write_config "$n" "$dir"
  for i in $(seq 1 "$n"); do start_node "$i" "$dir"; done
  wait_quorate "$n" "$dir" 30
}

wait_quorate() {
  local n=$1 dir=$2 limit=$3
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt $deadline ]; do
    local ok=0
    for i in $(seq 1 "$n"); do
      if node_exec "$i" "$dir" corosync-quorumtool -s >/dev/null 2>&1; then ok=$((ok + 1)); fi
    done
    if [ "$ok" -eq "$n" ]; then echo "cluster of $n quorate after $((limit - (deadline - SECONDS)))s"; return 0; fi
    sleep 0.5
  done
  echo "cluster not quorate after ${limit}s" >&2
  return 1
}

kill_node() {
  local i=$1 dir=$2 pid
  pid=$(cat "$dir/n$i/corosync.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  pkill -9 -P "$pid" 2>/dev/null || true
  kill -9 "$pid" 2>/dev/null || true
  sleep 0.2
  rm -f /dev/shm/qb-*-"$pid"-* /dev/shm/qb-"$pid"-* 2>/dev/null || true
}

down() {
  local dir=$1
  local n; n=$(cat "$dir/nodes" 2>/dev/null || echo 9)
  for i in $(seq 1 "$n"); do
    # corosync runs as the child of the `ip netns exec sh` whose pid was recorded, or replaced it (exec)
    for pid in $(cat "$dir/n$i/corosync.pid" 2>/dev/null) $(pgrep -f "corosync -f -c $dir/n$i/corosync.conf" || true); do
      kill -9 "$pid" 2>/dev/null || true
      rm -f /dev/shm/qb-*-"$pid"-* /dev/shm/qb-"$pid"-* 2>/dev/null || true
    done
    ip netns del "$(ns "$i")" 2>/dev/null || true
  done
  ip netns del "$bridge_ns" 2>/dev/null || true
  ip link del "${prefix}h" 2>/dev/null || true
  for _ in $(seq 50); do pgrep -f "corosync -f -c $dir/" >/dev/null || break; sleep 0.1; done
  echo "cluster in $dir removed"
}

host_link() {
  local dir=$1
  ip link add "${prefix}h" type veth peer name "${prefix}hp"
  ip link set "${prefix}hp" netns "$bridge_ns"
  ip -n "$bridge_ns" link set "${prefix}hp" master br0 up
  ip addr add "${subnet}.254/24" dev "${prefix}h"
  ip link set "${prefix}h" up
  echo 1 > "$dir/host-link"
}

case "${1:-}" in
  up) up "$2" "$3" ;;
  net) net "$2" "$3"; host_link "$3" ;;
  up-host) up "$2" "$3"; host_link "$3" ;;
  down) down "$2" ;;
  status) n=$(cat "$2/nodes"); for i in $(seq 1 "$n"); do echo "== n$i"; node_exec "$i" "$2" corosync-quorumtool -s || true; done ;;
  exec) i=$2; dir=$3; shift 3; node_exec "$i" "$dir" "$@" ;;
  kill) kill_node "$2" "$3" ;;
  start) start_node "$2" "$3" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
