#!/bin/bash
# Builds a tiny container template from Debian's busybox-static: a rootfs whose init starts a shell on
# tty1 and the console, sets the hostname from /etc/hostname, brings up /etc/network/interfaces and
# prints CORRAL-TINY-CT-READY. Named as PVE names templates, so storage content lists it as vztmpl.
#     Tests/Guest/tiny-ct-template.sh OUTDIR   → prints OUTDIR/busybox-tiny_1.0-1_amd64.tar.gz
set -euo pipefail
out=${1:?usage: tiny-ct-template.sh OUTDIR}
mkdir -p "$out"
tarball="$out/busybox-tiny_1.0-1_amd64.tar.gz"
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi
bb=/bin/busybox   # busybox-static: no shared libraries to carry into the rootfs
[ -x "$bb" ] || { echo "tiny-ct-template: $bb missing (apt install busybox-static)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,etc/network,dev,proc,sys,tmp,root,run,var/log}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cat >"$root/etc/inittab" <<'INIT'
::sysinit:/etc/init.d/rcS
tty1::respawn:-/bin/sh
console::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
INIT
cat >"$root/etc/init.d/rcS" <<'RCS'
#!/bin/sh
[ -f /etc/hostname ] && hostname -F /etc/hostname
mkdir -p /run/network /var/run
[ -f /etc/network/interfaces ] && ifup -a -f 2>/dev/null
echo CORRAL-TINY-CT-READY
RCS
chmod 755 "$root/etc/init.d/rcS"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
chmod 600 "$root/etc/shadow"
echo 'root:x:0:' >"$root/etc/group"
printf 'auto lo\niface lo inet loopback\n' >"$root/etc/network/interfaces"
echo tiny >"$root/etc/hostname"
printf 'NAME=busybox\nID=busybox\n' >"$root/etc/os-release"
tar --numeric-owner -czf "$tarball.tmp" -C "$root" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
