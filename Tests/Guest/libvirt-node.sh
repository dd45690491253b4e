#!/bin/bash
# A libvirtd of a test node's own, for live migration between test nodes on one machine: libvirt
# refuses to migrate a domain to the libvirtd it runs under (same host UUID), so each node gets
# its own daemon with its own host UUID, in the node's network namespace (QEMU's migration and
# NBD listeners live there) and in a mount namespace of its own with empty /run/libvirt,
# /var/lib/libvirt, /etc/libvirt/qemu and /var/log/libvirt (nothing shared with the machine's
# libvirtd but the capability cache). virtlogd runs beside it in the same namespace.
#
#   libvirt-node.sh start DIR NETNS   start (DIR/libvirt holds its config, pid files and log);
#                                     prints the URI corrald uses
#   libvirt-node.sh stop DIR          stop it (its domains die with their QEMU)
set -u

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR NETNS | stop DIR" >&2; exit 2; }
base="$dir/libvirt"
sock="$base/sock/libvirt-sock"

# the daemons outlive us: they must not hold the caller's descriptors (a test runner's pipe)
for fd in $(ls /proc/$$/fd); do
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
done

case "$cmd" in
start)
    ns=${3:?netns}
    mkdir -p "$base/sock"
    cat >"$base/libvirtd.conf" <<EOF
unix_sock_dir = "$base/sock"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$base/libvirtd.log"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
EOF
    # QEMU runs as root, as on PVE: the two nodes' libvirtds share one local file system here, and the
    # source's restoring the image's owner after a migration (it cannot tell the storage is shared)
    # would lock the target's QEMU out of it
    printf 'user = "root"\ngroup = "root"\n' >"$base/qemu.conf"
    nsenter --net="/run/netns/$ns" unshare --mount --propagation private /bin/sh -c '
        set -e
        base=$1
        for d in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /var/log/libvirt; do
            mkdir -p "$d"
            mount -t tmpfs -o mode=0755 tmpfs "$d"
        done
        mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu
        mount --bind "$base/qemu.conf" /etc/libvirt/qemu.conf
        virtlogd -d -p "$base/virtlogd.pid"
        exec libvirtd -d -f "$base/libvirtd.conf" -p "$base/libvirtd.pid"
    ' sh "$base" </dev/null >"$base/daemons.log" 2>&1 || { cat "$base/daemons.log" >&2; exit 1; }
    uri="qemu:///system?socket=$sock"
    for _ in $(seq 1 300); do
        if virsh -c "$uri" version >/dev/null 2>&1; then
            echo "$uri"
            exit 0
        fi
        sleep 0.2
    done
    echo "libvirt-node: libvirtd in $ns did not answer on $sock" >&2
    cat "$base/daemons.log" >&2
    exit 1
    ;;
stop)
    # QEMU outlives libvirtd: the node's domains go first
    for domain in $(timeout 20 virsh -c "qemu:///system?socket=$sock" list --name 2>/dev/null); do
        timeout 20 virsh -c "qemu:///system?socket=$sock" destroy "$domain" >/dev/null 2>&1
    done
    for name in libvirtd virtlogd; do
        pid=$(cat "$base/$name.pid" 2>/dev/null) || continue
        [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ] && kill "$pid" 2>/dev/null
    done
    for _ in $(seq 1 50); do
        pid=$(cat "$base/libvirtd.pid" 2>/dev/null) || break
        [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = libvirtd ] || break
        sleep 0.1
    done
    exit 0
    ;;
*)
    echo "usage: $0 start DIR NETNS | stop DIR" >&2
    exit 2
    ;;
esac
