import Foundation
import Guests
import Storage

/// Container templates this node makes itself, without a download server: a busybox one from the
/// host's `busybox-static` (offline, a second), and Debian from Debian's mirror with debootstrap.
/// They appear where PVE's appliance index does (`/nodes/{node}/aplinfo`), so `pveam` workflows fit.
public enum TemplateBuilder {
    public struct Entry: Sendable {
        public var template: String
        public var os: String
        public var version: String
        public var headline: String
        public var source: String
    }

    public static let entries = [
        Entry(
            template: "busybox-1.35-corral_1.0-1_amd64.tar.gz", os: "busybox", version: "1.0-1",
            headline: "Busybox from the node's busybox-static (built offline)", source: "busybox-static"),
        Entry(
            template: "debian-12-corral-minbase_12.0-1_amd64.tar.gz", os: "debian-12", version: "12.0-1",
            headline: "Debian 12 (bookworm), debootstrap minbase with systemd, ifupdown and iproute2", source: "debootstrap"),
    ]

    /// The first Debian mirror of the host's apt sources (so a local mirror is used when there is one).
    static func debianMirror() -> String {
        let files =
            ["/etc/apt/sources.list"]
            + ((try? FileManager.default.contentsOfDirectory(atPath: "/etc/apt/sources.list.d")) ?? []).map { "/etc/apt/sources.list.d/" + $0 }
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            // Debian's archive itself (path ending in /debian), not security or third-party repositories
            for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) where word.hasPrefix("http") {
                let url = word.hasSuffix("/") ? word.dropLast() : word
                if url.hasSuffix("/debian") { return String(url) }
            }
        }
        return "http://deb.debian.org/debian"
    }

    /// Builds `entry` into `directory` (a storage's template cache) and returns the file's path.
    public static func build(_ entry: Entry, into directory: String, log: @Sendable (String) -> Void) throws -> String {
        let target = directory + "/" + entry.template
        let work = directory + "/.build-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work + "/root", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let root = work + "/root"
        do {
            if entry.source == "busybox-static" {
                log("assembling a busybox root file system")
                _ = try Command.run(["sh", "-c", busyboxScript, "busybox-rootfs", root])
            } else {
                let mirror = debianMirror()
                log("debootstrap --variant=minbase bookworm from \(mirror) (about half a minute)")
                _ = try Command.run(["debootstrap", "--variant=minbase", "--include=systemd-sysv,ifupdown,iproute2", "bookworm", root, mirror])
                // the host's apt caches and machine identity do not belong in a template
                _ = try Command.run([
                    "sh", "-c", "rm -rf \"$1\"/var/cache/apt/archives/*.deb \"$1\"/var/lib/apt/lists/* && : > \"$1\"/etc/machine-id", "clean", root,
                ])
            }
            log("packing \(entry.template)")
            _ = try Command.run(["tar", "--numeric-owner", "-czf", work + "/out.tar.gz", "-C", root, "."])
        } catch { throw GuestError(wrapping: error, "building \(entry.template) failed") }
        guard rename(work + "/out.tar.gz", target) == 0 else { throw GuestError(500, "cannot store \(target)") }
        return target
    }

    /// A root file system around the host's static busybox: init starts a shell on tty1 and the
    /// console, and rcS sets the hostname and brings up /etc/network/interfaces (DHCP through udhcpc).
    static let busyboxScript = #"""
        set -e
        root=$1
        [ -x /bin/busybox ] || { echo "busybox-static is not installed" >&2; exit 1; }
        mkdir -p "$root"/bin "$root"/sbin "$root"/usr/bin "$root"/usr/sbin "$root"/etc/init.d "$root"/etc/network \
            "$root"/dev "$root"/proc "$root"/sys "$root"/tmp "$root"/root "$root"/run "$root"/var/log
        chmod 1777 "$root/tmp"
        cp /bin/busybox "$root/bin/busybox"
        for applet in $(/bin/busybox --list-full); do [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"; done
        printf '::sysinit:/etc/init.d/rcS\ntty1::respawn:-/bin/sh\nconsole::respawn:-/bin/sh\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/umount -a -r\n' > "$root/etc/inittab"
        printf '#!/bin/sh\n[ -f /etc/hostname ] && hostname -F /etc/hostname\nmkdir -p /run/network /var/run\n[ -f /etc/network/interfaces ] && ifup -a -f 2>/dev/null\necho CORRAL-TINY-CT-READY\n' > "$root/etc/init.d/rcS"
        chmod 755 "$root/etc/init.d/rcS"
        echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
        echo 'root:*:19000:0:99999:7:::' > "$root/etc/shadow"
        chmod 600 "$root/etc/shadow"
        echo 'root:x:0:' > "$root/etc/group"
        printf 'auto lo\niface lo inet loopback\n' > "$root/etc/network/interfaces"
        printf 'NAME=busybox\nID=busybox\n' > "$root/etc/os-release"
        # what busybox's udhcpc runs with a lease (ifup's `inet dhcp`): set the address and the default route
        # (Debian's busybox looks in /etc/udhcpc, upstream's in /usr/share/udhcpc)
        mkdir -p "$root/etc/udhcpc" "$root/usr/share/udhcpc"
        cat > "$root/etc/udhcpc/default.script" <<'EOF'
        #!/bin/sh
        case "$1" in
          deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
          bound|renew)
            ip addr flush dev "$interface"
            ip addr add "$ip/${mask:-24}" dev "$interface"
            [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
            ;;
        esac
        exit 0
        EOF
        chmod 755 "$root/etc/udhcpc/default.script"
        ln -s /etc/udhcpc/default.script "$root/usr/share/udhcpc/default.script"
        """#
}
