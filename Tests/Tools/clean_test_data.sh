#!/usr/bin/env bash
# Removes what earlier test runs left in /tmp (data directories of test daemons, their logs, dead FUSE
# mounts of killed runs). `make test` calls it before it starts, so a run's leftovers stay for
# inspection until the next run, and they never pile up until the disk is full.
set -u
tmp="${TMPDIR:-/tmp}"
# mounts first, deepest first (a directory with a live mount under it cannot be removed); mounts can
# be stacked on one directory, so a few passes
for _ in 1 2 3 4; do
    mounts=$(awk -v prefix="$tmp/corral-" 'index($2, prefix) == 1 { print $2 }' /proc/self/mounts | sort -r)
    [ -z "$mounts" ] && break
    for mountpoint in $mounts; do umount -l "$mountpoint" 2>/dev/null || true; done
done
find "$tmp" -maxdepth 1 -name 'corral-*' -exec rm -rf {} + 2>/dev/null || true
