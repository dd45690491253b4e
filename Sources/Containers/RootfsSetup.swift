import Crypt
import Foundation
import Glibc
import Guests

/// Writes what a container's own system needs to match its config (hostname, `/etc/hosts`, network
/// configuration, DNS, root password, SSH keys) into its root file system, mounted on the host at
/// `root`. Paths inside the container are never followed through its symlinks, so a guest cannot
/// point a write at the host. Files get the container's root owner (`owner`, shifted when unprivileged).
struct RootfsSetup {
    let root: String
    let owner: uid_t

    /// The distribution family, from the files each one ships.
    static func detectOSType(root: String) -> String {
        let fm = FileManager.default
        if let release = try? String(contentsOfFile: root + "/etc/os-release", encoding: .utf8) {
            for id in ["ubuntu", "devuan", "alpine", "archlinux", "fedora", "centos", "opensuse", "gentoo", "nixos"]
            where release.contains("ID=\(id)") || release.contains("ID=\"\(id)") {
                return id
            }
        }
        if fm.fileExists(atPath: root + "/etc/debian_version") { return "debian" }
        if fm.fileExists(atPath: root + "/etc/alpine-release") { return "alpine" }
        return "unmanaged"
    }

    /// A path inside the root whose every existing component is a real directory (no symlink).
    func safePath(_ inside: String) throws -> String {
        var path = root
        let parts = inside.split(separator: "/")
        for (i, part) in parts.enumerated() {
            guard part != "..", part != "." else { throw GuestError(500, "invalid path \(inside)") }
            path += "/" + part
            var st = stat()
            if lstat(path, &st) != 0 {
                if i < parts.count - 1 {
                    mkdir(path, 0o755)
                    lchown(path, owner, owner)
                }
                continue
            }
            if i < parts.count - 1 && (st.st_mode & S_IFMT) != S_IFDIR {
                throw GuestError(500, "\(inside): '\(part)' is not a directory in the container")
            }
        }
        return path
    }

    /// Replaces a file (never writing through a symlink the guest placed there).
    func write(_ inside: String, _ text: String, mode: mode_t = 0o644) throws {
        let path = try safePath(inside)
        unlink(path + ".corral-tmp")
        let fd = open(path + ".corral-tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw GuestError(500, "cannot write \(inside) in the container: \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchown(fd, owner, owner)
        fchmod(fd, mode)
        close(fd)
        guard written == bytes.count, rename(path + ".corral-tmp", path) == 0 else {
            unlink(path + ".corral-tmp")
            throw GuestError(500, "cannot write \(inside) in the container")
        }
    }

    func read(_ inside: String) -> String? {
        guard let path = try? safePath(inside) else { return nil }
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return try? String(contentsOfFile: path, encoding: .utf8)
    }

    // MARK: what is written

    func apply(config: CTConfig, ostype: String) throws {
        let hostname = config.hostname ?? "localhost"
        try write("/etc/hostname", hostname + "\n")
        try write("/etc/hosts", hostsFile(hostname: hostname, searchdomain: config.searchdomains.first))
        if !config.nameservers.isEmpty || !config.searchdomains.isEmpty {
            var text = config.searchdomains.isEmpty ? "" : "search \(config.searchdomains.joined(separator: " "))\n"
            for server in config.nameservers { text += "nameserver \(server)\n" }
            try write("/etc/resolv.conf", text)
        }
        if ["debian", "ubuntu", "devuan", "alpine", "unmanaged"].contains(ostype), !config.nics.isEmpty {
            try write("/etc/network/interfaces", interfacesFile(config.nics))
        }
    }

    func hostsFile(hostname: String, searchdomain: String?) -> String {
        let names = searchdomain.map { "\(hostname).\($0) \(hostname)" } ?? hostname
        return
            "127.0.0.1 localhost.localdomain localhost\n127.0.1.1 \(names)\n\n::1 localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n"
    }

    /// ifupdown's format, which Debian's and busybox's `ifup` both read.
    func interfacesFile(_ nics: [CTConfig.NIC]) -> String {
        var text = "auto lo\niface lo inet loopback\n"
        for nic in nics {
            text += "\nauto \(nic.name)\n"
            // a static address is set by liblxc before init runs, so ifup only brings the link up
            text += "iface \(nic.name) inet \(nic.ip == "dhcp" ? "dhcp" : "manual")\n"
            if nic.ip6 == "dhcp" { text += "iface \(nic.name) inet6 dhcp\n" } else if nic.ip6 == "auto" { text += "iface \(nic.name) inet6 auto\n" }
        }
        return text
    }

    /// Sets root's password in `/etc/shadow` (SHA-512 crypt); a password already hashed (`$…`) is taken as is.
    func setRootPassword(_ password: String) throws {
        let hash: String
        // SHA-512 crypt: every guest's libc reads it (busybox's included, which knows no yescrypt)
        if password.hasPrefix("$") {
            hash = password
        } else {
            do { hash = try PasswordHash.make(password, prefix: "$6$") } catch { throw GuestError(wrapping: error, "cannot hash the root password") }
        }
        let shadow = read("/etc/shadow") ?? "root:*:19000:0:99999:7:::\n"
        var found = false
        var lines = shadow.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.first == "root", fields.count > 1 else { return String(line) }
            found = true
            fields[1] = hash
            return fields.joined(separator: ":")
        }
        if !found { lines.insert("root:\(hash):19000:0:99999:7:::", at: 0) }
        try write("/etc/shadow", lines.joined(separator: "\n"), mode: 0o640)
    }

    func addSSHKeys(_ keys: String) throws {
        let existing = read("/root/.ssh/authorized_keys") ?? ""
        let text = existing + (existing.isEmpty || existing.hasSuffix("\n") ? "" : "\n") + keys.trimmingCharacters(in: .newlines) + "\n"
        try write("/root/.ssh/authorized_keys", text, mode: 0o600)  // makes /root/.ssh when missing
        chmod(try safePath("/root/.ssh"), 0o700)
    }
}
