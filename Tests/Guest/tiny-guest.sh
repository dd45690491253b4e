#!/bin/bash
# Tests that drive real QEMU guests through libvirt need something that boots, shows its disks
# and obeys an ACPI shutdown, in a few seconds under software emulation, without fetching
# anything but Debian packages. A full distro image is too slow and too big to keep around, so
# we assemble one from Debian's cloud kernel and busybox-static each time we need it, and keep
# only this script in the repository (never the kernel or the ISO).
#
# Usage: tiny-guest.sh OUTDIR
# Leaves OUTDIR/tiny.iso (isolinux, boots as a cdrom), OUTDIR/vmlinuz, OUTDIR/initrd.img and
# OUTDIR/cmdline (for direct-kernel boots). Skips the work if tiny.iso is newer than this script.
#
# Guest contract (serial console ttyS0):
#   "CORRAL-TINY-GUEST-READY"  once modules are loaded, disks are probed and the power button
#                              is armed; exactly once per boot
#   "CORRAL-DISKS: vda sda"    the next line: block devices in /sys/block (loop/ram left out)
#   ACPI power button          -> poweroff -f (a press before the marker is lost: wait for it)
#   a disk starting with "CORRAL-WRITE-ME!" -> "CORRAL-WRITER-STARTED sdX", blocks 1..256 (4 KiB) filled
#                              with "CORRAL-BLOCK-k" lines over ~5 s, then "CORRAL-WRITER-DONE sdX"
#   a disk starting with "CORRAL-COUNT-ME!" -> "CORRAL-COUNT n" every ~100 ms, n = 1, 2, … (a live
#                              migration's test sees the guest go on counting, and its downtime)
#   a disk starting with "CORRAL-MKFS-ME!!" -> formatted ext2 and mounted on /data (so the agent's
#                              fs-freeze has a real file system to freeze), then "CORRAL-DATA-MOUNTED sdX"
#   after READY, in the background (never delaying READY):
#   qemu-guest-agent            on the virtio port org.qemu.guest_agent.0 if the VM has one (agent: 1),
#                              then "CORRAL-AGENT-STARTED"; /sbin/shutdown powers off; chpasswd sets
#                              /etc/shadow; /etc/os-release names the guest "corral-tiny"
#   a cloud-init drive          (ISO labelled cidata = nocloud, config-2 = configdrive2, on IDE or SCSI):
#                              hostname and eth0's address applied, then one line
#                              "CORRAL-CLOUDINIT: source=S hostname=H user=U address=A/P gateway=G dns=D"
#                              (fields empty where the drive has none), or "CORRAL-CLOUDINIT: none"
# Serial lines end in CR LF. Only virtio-scsi targets 0..7 are scanned (each costs ~27 ms under
# TCG); put corral.scsi_targets=N on the kernel command line of a direct boot for more.
# Env: TINY_GUEST_KERNEL_PKG=linux-image-...-cloud-amd64 to pin the kernel package.
set -euo pipefail

die() { echo "tiny-guest: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
SELF=$(readlink -f "$0")
mkdir -p "$1"
OUT=$(cd "$1" && pwd)

up_to_date() {
    [ -s "$OUT/tiny.iso" ] && [ "$OUT/tiny.iso" -nt "$SELF" ] &&
        [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ]
}
report() {
    echo "tiny-guest: $1 $OUT/tiny.iso ($(stat -c %s "$OUT/tiny.iso") bytes)"
}

up_to_date && { report "up to date:"; exit 0; }

# Two test runs may share OUTDIR: build once, the other waits and then finds it up to date.
exec 9>"$OUT/.tiny-guest.lock"
flock 9
up_to_date && { report "up to date:"; exit 0; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, creates device nodes)"

APTLOG=$(mktemp /tmp/tiny-guest-apt.XXXXXX)
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$WORK" "$APTLOG"' EXIT

apt_install() {
    local opts=(-o DPkg::Lock::Timeout=600 -y --no-install-recommends)
    if ! DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install "$@" >>"$APTLOG" 2>&1; then
        apt-get -o DPkg::Lock::Timeout=600 update >>"$APTLOG" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install "$@" >>"$APTLOG" 2>&1 ||
            { tail -n 30 "$APTLOG" >&2; die "apt-get install $* failed"; }
    fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need=()
for p in busybox-static cpio gzip isolinux syslinux-common libglib2.0-0 libnuma1 liburing2 libudev1; do
    installed "$p" || need+=("$p")
done
if ! command -v genisoimage >/dev/null && ! command -v xorriso >/dev/null; then
    need+=(genisoimage)
fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

BUSYBOX=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX_C32=/usr/lib/syslinux/modules/bios/ldlinux.c32
for f in "$BUSYBOX" "$ISOLINUX_BIN" "$LDLINUX_C32"; do
    [ -f "$f" ] || die "missing $f after installing packages"
done

# --- kernel: the current cloud ABI package, unpacked, never installed ------------------------
kernel_pkg() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1
}
KPKG=${TINY_GUEST_KERNEL_PKG:-$(kernel_pkg)}
if [ -z "$KPKG" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update >>"$APTLOG" 2>&1 || true
    KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || die "cannot find the ABI package behind linux-image-cloud-amd64 (apt-cache depends)"

( cd "$WORK" && apt-get -o APT::Sandbox::User=root download "$KPKG" qemu-guest-agent >>"$APTLOG" 2>&1 ) ||
    { tail -n 20 "$APTLOG" >&2; die "apt-get download $KPKG qemu-guest-agent failed"; }
dpkg-deb -x "$WORK"/qemu-guest-agent_*.deb "$WORK/qga"
[ -x "$WORK/qga/usr/sbin/qemu-ga" ] || die "no qemu-ga in the qemu-guest-agent package"
dpkg-deb -x "$WORK"/"$KPKG"_*.deb "$WORK/k"

KVER=$(ls "$WORK/k/lib/modules" | head -n 1)
MODDIR=$WORK/k/lib/modules/$KVER
VMLINUZ=$WORK/k/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die "no kernel image in $KPKG"

# Module names in depends= and on disk mix '-' and '_': index both by the '_' form.
norm() { tr '-' '_'; }
( cd "$MODDIR" && find kernel -name '*.ko*' ) |
    while read -r p; do b=${p##*/}; echo "$(echo "${b%%.ko*}" | norm) $p"; done >"$WORK/mod.index"
sed 's|.*/||; s|\.ko.*||' "$MODDIR/modules.builtin" | norm >"$WORK/builtin.index"

# The modules we want, in the order /init loads them (with insmod parameters). Dependencies
# found in each module's own depends= are put in front of it automatically.
WANTED=(
    virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
    "scsi_mod scan=manual" # /init scans only a few targets itself (see there); insmod, unlike
    sd_mod virtio_scsi     # modprobe, ignores scsi_mod.* on the kernel command line
    button evdev           # ACPI power button -> /dev/input/eventN
)
# Loaded after READY, so they never delay it: the agent's port, a NIC, IDE CD-ROMs and ISO 9660
# for a cloud-init drive.
LATE=(virtio_console virtio_net ata_piix sr_mod isofs)

mkdir -p "$WORK/initrd/lib/modules" "$WORK/initrd/etc"
: >"$WORK/seen"
: >"$WORK/initrd/etc/tiny-modules"
BUILTIN=() MISSING=()

LIST=tiny-modules
add_module() { # name [insmod args...]
    local name dep path f
    name=$(echo "$1" | norm); shift
    grep -qx "$name" "$WORK/seen" && return 0
    echo "$name" >>"$WORK/seen"
    if grep -qx "$name" "$WORK/builtin.index"; then BUILTIN+=("$name"); return 0; fi
    path=$(awk -v n="$name" '$1 == n { print $2; exit }' "$WORK/mod.index")
    if [ -z "$path" ]; then MISSING+=("$name"); return 0; fi
    f=$MODDIR/$path
    for dep in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '); do
        add_module "$dep"
    done
    case "$f" in
        *.ko) cp "$f" "$WORK/initrd/lib/modules/$name.ko" ;;
        *.ko.xz) xz -dc "$f" >"$WORK/initrd/lib/modules/$name.ko" ;;
        *.ko.gz) gzip -dc "$f" >"$WORK/initrd/lib/modules/$name.ko" ;;
        *.ko.zst) zstd -qdc "$f" >"$WORK/initrd/lib/modules/$name.ko" ;;
        *) die "unknown module format $f" ;;
    esac
    echo "$name${1:+ $*}" >>"$WORK/initrd/etc/$LIST"
}
for m in "${WANTED[@]}"; do
    # shellcheck disable=SC2086
    add_module $m
done
LIST=tiny-late-modules
: >"$WORK/initrd/etc/$LIST"
for m in "${LATE[@]}"; do add_module "$m"; done
printf %s "${BUILTIN[*]:-}" >"$WORK/initrd/etc/tiny-builtin"
printf %s "${MISSING[*]:-}" >"$WORK/initrd/etc/tiny-missing"

# --- initramfs -------------------------------------------------------------------------------
R=$WORK/initrd
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/dev" "$R/proc" "$R/sys" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
mknod -m 600 "$R/dev/console" c 5 1   # the kernel opens it before /init can mount devtmpfs
mknod -m 666 "$R/dev/null" c 1 3

# qemu-ga and the shared libraries it needs, from this host (the same Debian release)
mkdir -p "$R/usr/sbin" "$R/etc" "$R/run" "$R/var" "$R/mnt" "$R/data"
ln -s ../run "$R/var/run"
cp "$WORK/qga/usr/sbin/qemu-ga" "$R/usr/sbin/qemu-ga"
for lib in $(ldd "$R/usr/sbin/qemu-ga" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
done
cat >"$R/etc/os-release" <<'EOF'
ID=corral-tiny
NAME="Corral tiny guest"
VERSION_ID=1
PRETTY_NAME="Corral tiny guest 1"
EOF
printf 'root:x:0:0:root:/root:/bin/sh\ncorral:x:1000:1000:corral:/home/corral:/bin/sh\n' >"$R/etc/passwd"
printf 'root:*:19000:0:99999:7:::\ncorral:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
printf 'root:x:0:\ncorral:x:1000:\n' >"$R/etc/group"
# what qemu-ga runs for guest-shutdown and guest-set-user-password (busybox has neither)
cat >"$R/sbin/shutdown" <<'EOF'
#!/bin/sh
echo "corral-tiny: shutdown $* (guest agent)" >/dev/console
sync
case " $* " in *" -r "*) reboot -f ;; *) poweroff -f ;; esac
EOF
cat >"$R/usr/sbin/chpasswd" <<'EOF'
#!/bin/sh
# "user:password" lines on stdin; -e: the password is already crypted
crypted=0
[ "$1" = "-e" ] && crypted=1
while IFS=: read -r user pass; do
    [ -n "$user" ] || continue
    grep -q "^$user:" /etc/shadow || { echo "chpasswd: no user $user" >&2; exit 1; }
    [ $crypted = 1 ] || pass=$(mkpasswd -m sha512 "$pass")
    sed -i "s|^$user:[^:]*:|$user:$pass:|" /etc/shadow
done
EOF
chmod 755 "$R/sbin/shutdown" "$R/usr/sbin/chpasswd"

cat >"$R/init" <<'INIT'
#!/bin/sh
# PID 1 of the tiny test guest. Contract: see tiny-guest.sh.
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

say() { echo "corral-tiny: $*"; }
say "kernel $(uname -r)"

loaded="" failed=""
while read -r name args; do
    [ -n "$name" ] || continue
    if [ -f "/lib/modules/$name.ko" ] && insmod "/lib/modules/$name.ko" $args; then
        loaded="$loaded $name"
    else
        failed="$failed $name"
    fi
done </etc/tiny-modules
say "modules loaded:$loaded"
[ -s /etc/tiny-builtin ] && say "modules built in: $(cat /etc/tiny-builtin)"
[ -s /etc/tiny-missing ] && say "modules missing in this kernel: $(cat /etc/tiny-missing)"
[ -n "$failed" ] && say "modules FAILED:$failed"

# Scanning all 256 virtio-scsi targets costs ~27 ms each under TCG (~7 s), so the bus is scanned
# by hand: targets 0..N-1 (all LUNs), N from corral.scsi_targets= on the kernel command line,
# default 8. libvirt puts virtio-scsi disks on target 0 unless told otherwise.
ntargets=8
for arg in $(cat /proc/cmdline); do
    case "$arg" in corral.scsi_targets=*) ntargets=${arg#*=} ;; esac
done
for h in /sys/class/scsi_host/host*; do
    [ -w "$h/scan" ] || continue
    t=0
    while [ "$t" -lt "$ntargets" ]; do
        echo "0 $t -" >"$h/scan" 2>/dev/null
        t=$((t + 1))
    done
done

# sd probing can still be asynchronous: wait (<= 5 s) until every SCSI disk has its block device.
i=0
while [ $i -lt 50 ]; do
    pending=0
    for d in /sys/bus/scsi/devices/*:*:*:*; do
        [ -e "$d/type" ] || continue
        [ "$(cat "$d/type")" = 0 ] || continue
        ls "$d"/block/* >/dev/null 2>&1 || pending=1
    done
    [ $pending = 0 ] && break
    sleep 0.1
    i=$((i + 1))
done

# Arm the power button before saying READY: a caller may shut down right after the marker.
armed=0
for ev in /sys/class/input/event*; do
    [ -e "$ev/device/name" ] || continue
    if [ "$(cat "$ev/device/name")" = "Power Button" ]; then
        dev=/dev/input/${ev##*/}
        # One read() of an evdev node returns only when an event (the key press) arrives.
        ( dd if="$dev" of=/dev/null bs=24 count=1 2>/dev/null &&
            { say "power button pressed, powering off"; sync; poweroff -f; } ) &
        armed=$((armed + 1))
    fi
done
[ $armed -gt 0 ] || say "WARNING: no ACPI power button input device; ACPI shutdown will not work"

dmesg -n 1   # keep kernel messages from splitting the marker lines
say "ready at uptime $(cut -d' ' -f1 /proc/uptime) s"
disks=""
for b in /sys/block/*; do
    [ -e "$b" ] || continue
    b=${b##*/}
    case "$b" in loop*|ram*|zram*) continue ;; esac
    disks="$disks $b"
done
echo "CORRAL-TINY-GUEST-READY"
echo "CORRAL-DISKS:$disks"

# A disk whose first bytes are "CORRAL-WRITE-ME!" gets written while the guest runs: block k (4 KiB,
# k = 1..256) is filled with "CORRAL-BLOCK-k" lines, one block every ~20 ms, each flushed, so a test can
# move the disk under the guest and then check that no write was lost.
for b in $disks; do
    [ "$(dd if=/dev/$b bs=16 count=1 2>/dev/null)" = "CORRAL-WRITE-ME!" ] || continue
    (
        echo "CORRAL-WRITER-STARTED $b"
        k=1
        while [ $k -le 256 ]; do
            yes "CORRAL-BLOCK-$k" | head -c 4096 | dd of=/dev/$b bs=4096 seek=$k count=1 conv=notrunc,fsync 2>/dev/null
            usleep 20000
            k=$((k + 1))
        done
        echo "CORRAL-WRITER-DONE $b"
    ) &
done

# A disk starting with "CORRAL-COUNT-ME!" makes the guest count on its console until it stops.
for b in $disks; do
    [ "$(dd if=/dev/$b bs=16 count=1 2>/dev/null)" = "CORRAL-COUNT-ME!" ] || continue
    (
        n=0
        while :; do
            n=$((n + 1))
            echo "CORRAL-COUNT $n"
            usleep 100000
        done
    ) &
done

# A disk starting with "CORRAL-MKFS-ME!!" becomes an ext2 file system on /data.
for b in $disks; do
    [ "$(dd if=/dev/$b bs=16 count=1 2>/dev/null)" = "CORRAL-MKFS-ME!!" ] || continue
    mke2fs -q /dev/$b >/dev/null 2>&1 && mount -t ext2 /dev/$b /data && echo "CORRAL-DATA-MOUNTED $b"
    break
done

late() {
    while read -r name args; do
        [ -f "/lib/modules/$name.ko" ] && insmod "/lib/modules/$name.ko" $args 2>/dev/null
    done </etc/tiny-late-modules
}

# The guest agent, on the port libvirt names org.qemu.guest_agent.0.
agent() {
    i=0
    while [ $i -lt 50 ]; do
        for p in /sys/class/virtio-ports/*; do
            [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
            PATH=/usr/sbin:/usr/bin:/sbin:/bin qemu-ga -m virtio-serial -p "/dev/${p##*/}" -t /run -l /run/qemu-ga.log &
            echo "CORRAL-AGENT-STARTED"
            return
        done
        sleep 0.1
        i=$((i + 1))
    done
}

# The first CD-ROM or disk holding a cloud-init drive, applied and reported on one line.
yaml() { sed -n "s/^ *$1: *//p" "$2" | head -n 1 | tr -d "'\""; }
cloudinit() {
    i=0 src="" m=/mnt/ci
    mkdir -p $m
    while [ $i -lt 30 ] && [ -z "$src" ]; do
        for b in /sys/block/sr* /sys/block/sd*; do
            [ -e "$b" ] || continue
            mount -t iso9660 -o ro "/dev/${b##*/}" $m 2>/dev/null || continue
            if [ -f $m/meta-data ]; then src=nocloud; break; fi
            if [ -f $m/openstack/latest/meta_data.json ]; then src=configdrive2; break; fi
            umount $m
        done
        [ -n "$src" ] || sleep 0.2
        i=$((i + 1))
    done
    [ -n "$src" ] || { echo "CORRAL-CLOUDINIT: none"; return; }
    if [ $src = nocloud ]; then
        ud=$m/user-data
        host=$(yaml hostname $ud)
        [ -n "$host" ] || host=$(yaml local-hostname $m/meta-data)
        addr=$(yaml address $m/network-config) mask=$(yaml netmask $m/network-config)
        gw=$(yaml gateway $m/network-config)
        dns=$(sed -n '/nameserver/,$ s/^ *- *//p' $m/network-config | tr -d "'\"" | grep -E '^[0-9.]+$' | head -n 1)
    else
        ud=$m/openstack/latest/user_data
        host=$(yaml hostname $ud)
        [ -n "$host" ] || host=$(sed -n 's/.*"hostname" *: *"\([^"]*\)".*/\1/p' $m/openstack/latest/meta_data.json)
        eni=$m/openstack/content/0000
        addr=$(sed -n 's/^ *address *//p' $eni | head -n 1) mask=$(sed -n 's/^ *netmask *//p' $eni | head -n 1)
        gw=$(sed -n 's/^ *gateway *//p' $eni | head -n 1)
        dns=$(sed -n 's/^ *dns[-_]nameservers *//p' $eni | head -n 1 | cut -d' ' -f1)
    fi
    user=$(yaml user $ud)
    prefix=""
    if [ -n "$mask" ]; then
        prefix=0
        for o in $(echo "$mask" | tr . ' '); do
            while [ "$o" -gt 0 ]; do prefix=$((prefix + (o & 1))); o=$((o >> 1)); done
        done
    fi
    [ -n "$host" ] && hostname "$host"
    if [ -n "$addr" ] && [ -e /sys/class/net/eth0 ]; then
        ip link set eth0 up
        ip addr add "$addr/${prefix:-24}" dev eth0
    fi
    umount $m
    echo "CORRAL-CLOUDINIT: source=$src hostname=$host user=$user address=$addr/$prefix gateway=$gw dns=$dns"
}

( late; agent; cloudinit ) &

while :; do sleep 3600; done
INIT
chmod 755 "$R/init"

( cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet ) | gzip -9 -n >"$WORK/initrd.img"

# --- ISO (isolinux, El Torito no-emulation) --------------------------------------------------
CMDLINE="console=tty0 console=ttyS0,115200 quiet"
ISO=$WORK/iso
mkdir -p "$ISO/isolinux"
cp "$ISOLINUX_BIN" "$LDLINUX_C32" "$ISO/isolinux/"
cp "$VMLINUZ" "$ISO/vmlinuz"
cp "$WORK/initrd.img" "$ISO/initrd.img"
cat >"$ISO/isolinux/isolinux.cfg" <<EOF
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT tiny
LABEL tiny
  KERNEL /vmlinuz
  APPEND initrd=/initrd.img $CMDLINE
EOF

MKISO=(genisoimage)
command -v genisoimage >/dev/null || MKISO=(xorriso -as mkisofs)
"${MKISO[@]}" -quiet -o "$WORK/tiny.iso" -V CORRAL_TINY -R -J \
    -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table "$ISO" >>"$APTLOG" 2>&1 ||
    { tail -n 20 "$APTLOG" >&2; die "${MKISO[*]} failed"; }

# tiny.iso goes last: its presence (and age) is what says the whole set is complete.
cp "$VMLINUZ" "$OUT/vmlinuz.tmp" && mv -f "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv -f "$WORK/initrd.img" "$OUT/initrd.img"
echo "$CMDLINE" >"$OUT/cmdline"
mv -f "$WORK/tiny.iso" "$OUT/tiny.iso"
report "built from $KPKG:"
