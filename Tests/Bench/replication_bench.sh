#!/usr/bin/env bash
# ClusterFS from inside (`make bench`): the in-process API and a big tree (`corral clusterfs-bench
# local`), then replication latency on a real 3-node cluster (corosync per network namespace,
# Tests/Cluster/cluster.sh; one corrald per node) against raw CPG round trips measured by the same
# process in the same run (`corral clusterfs-bench latency`, run in node 1's namespace).
#
#   bash Tests/Bench/replication_bench.sh [BIN_DIR]     (default .build/release)
#
# Environment: BENCH_FILES (100000) and BENCH_MIB (128) for the big tree; BENCH_COUNT (2000) writes.
set -euo pipefail
BIN=${1:-.build/release}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CORRAL_CLUSTER_PREFIX=cfsb CORRAL_CLUSTER_SUBNET=10.213.11
TMP=$(mktemp -d /tmp/corral-repbench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
    bash "$HERE/../Cluster/cluster.sh" down "$TMP/cluster" >/dev/null 2>&1 || true
    for m in $(awk -v t="$TMP" 'index($2, t) == 1 { print $2 }' /proc/mounts); do umount -l "$m" || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

echo "== in-process API and a big tree (local mode)"
"$BIN/corral" clusterfs-bench local "$TMP/local" "${BENCH_FILES:-100000}" "${BENCH_MIB:-128}"

echo "== replication on 3 nodes"
bash "$HERE/../Cluster/cluster.sh" up 3 "$TMP/cluster" </dev/null >"$TMP/cluster.log" 2>&1 || { cat "$TMP/cluster.log"; exit 1; }
for i in 1 2 3; do
    nsenter --net=/run/netns/cfsbn$i "$BIN/corrald" --config /dev/null --data-dir "$TMP/d$i" --listen 127.0.0.1:0 \
        --set corosync-conf="$TMP/cluster/n$i/corosync.conf" --set corosync-start=none --nodename n$i </dev/null >"$TMP/d$i.log" 2>&1 &
    PIDS+=($!)
done
for _ in $(seq 600); do
    ok=0
    for i in 1 2 3; do grep -q '"mode": "synced"' "$TMP/d$i/pve/.clusterfs-status" 2>/dev/null && ok=$((ok + 1)); done
    [ $ok -eq 3 ] && break
    sleep 0.1
done
[ $ok -eq 3 ] || { tail "$TMP"/d*.log; echo "cluster did not synchronise" >&2; exit 1; }
nsenter --net=/run/netns/cfsbn1 "$BIN/corral" clusterfs-bench latency "$TMP/bench" "${BENCH_COUNT:-2000}"
