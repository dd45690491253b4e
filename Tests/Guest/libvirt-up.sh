#!/bin/sh
# Nothing starts daemons on these machines (no systemd as PID 1), so every test run that
# needs the real QEMU driver has to bring libvirt up itself. This is safe to call any number
# of times: it only starts what is not already answering, and it waits for the first
# capability probe (8-9 s on a fresh machine) so callers can use qemu:///system right after.
# Success prints exactly one line; failure prints why (and the daemons' own output) to stderr.
set -u

# The daemons started here outlive us: they must not inherit the caller's descriptors (a test
# runner's output pipe held open by libvirtd makes the runner wait forever).
for fd in $(ls /proc/$$/fd); do
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
done

URI=${LIBVIRT_UP_URI:-qemu:///system}
TIMEOUT=${LIBVIRT_UP_TIMEOUT:-60}

die() {
    echo "libvirt-up: $*" >&2
    if [ -n "${LOG:-}" ] && [ -s "$LOG" ]; then
        echo "libvirt-up: last messages (daemons, virsh):" >&2
        tail -n 10 "$LOG" | sed "s/^/  /" >&2
    fi
    [ -n "${LOG:-}" ] && rm -f "$LOG"
    exit 1
}

for tool in virsh libvirtd virtlogd; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils)"
done

# /dev/kvm may come up root-only; QEMU runs as libvirt-qemu (group kvm). Missing /dev/kvm is
# fine: tests boot guests with <domain type='qemu'> (TCG) anyway.
if [ -e /dev/kvm ]; then
    chgrp kvm /dev/kvm 2>/dev/null || echo "libvirt-up: warning: chgrp kvm /dev/kvm failed" >&2
    chmod 0660 /dev/kvm 2>/dev/null || echo "libvirt-up: warning: chmod /dev/kvm failed" >&2
fi

# A daemon counts as running if its pid file names a live process of that name. We do not use
# a plain `pgrep -x libvirtd`: a test may run a second libvirtd in its own mount namespace
# (migration), which must not stop us from starting the main one.
running() { # name pidfile
    [ -r "$2" ] || return 1
    pid=$(cat "$2" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

LOG=$(mktemp /tmp/libvirt-up.XXXXXX) || die "mktemp failed"

if ! virsh -c "$URI" version >/dev/null 2>&1; then
    if ! running virtlogd /run/virtlogd.pid; then
        virtlogd -d >>"$LOG" 2>&1 || die "virtlogd -d failed"
    fi
    if ! running libvirtd /run/libvirtd.pid; then
        libvirtd -d >>"$LOG" 2>&1 || die "libvirtd -d failed"
    fi
fi

start=$(date +%s)
while :; do
    if out=$(virsh -c "$URI" version --daemon 2>>"$LOG"); then
        break
    fi
    if [ $(( $(date +%s) - start )) -ge "$TIMEOUT" ]; then
        die "libvirtd did not answer on $URI within ${TIMEOUT}s"
    fi
    sleep 0.5
done
rm -f "$LOG"

daemon=$(printf '%s\n' "$out" | sed -n 's/^Running against daemon: *//p')
hyper=$(printf '%s\n' "$out" | sed -n 's/^Running hypervisor: *//p')
echo "libvirt-up: ready on $URI (libvirtd ${daemon:-?}, ${hyper:-?})"
