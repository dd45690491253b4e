import Archive
import ClusterFS
import Foundation
import Glibc
import Guests
import LXC
import Schema
import Storage

/// A container into PVE's tar archive and back: `./etc/vzdump/pct.conf` and `./etc/vzdump/pct.fw`
/// first, then the root file system with IDs as the container sees them (tar runs in the
/// container's user namespace when it is unprivileged).
extension ContainerManager {

    /// How a container's backup is read.
    public struct BackupOptions: Sendable {
        /// `stop` (or a stopped container), `suspend` (copy while running, freeze for a last pass)
        /// or `snapshot` (the storage's snapshot, taken while frozen).
        public var mode: String
        /// Left out, as tar patterns: `/path` anchored at the root, anything else wherever it matches.
        public var excludePaths: [String]
        /// Where suspend mode's copy goes (its own directory under it).
        public var tmpdir: String?

        public init(mode: String, excludePaths: [String] = [], tmpdir: String? = nil) {
            self.mode = mode
            self.excludePaths = excludePaths
            self.tmpdir = tmpdir
        }
    }

    /// Writes the uncompressed tar into `consume` (a compressor's pipe, a chunk store). How a
    /// running container is read depends on `options.mode`; a stopped one is read from its mounted
    /// volume.
    public func writeBackup(
        _ vmid: Int, options: BackupOptions, consume: (ProcessPipe) throws -> Void, log: @escaping @Sendable (String) -> Void
    ) throws {
        let (config, _) = try load(vmid)
        let ct = CTConfig(config.current)
        guard let rootfs = ct.rootfs else { throw GuestError(500, "CT \(vmid) has no rootfs") }
        log("CT Name: \(config.current["hostname"] ?? "CT\(vmid)")")
        log("including mount point rootfs ('/') in backup")
        // volume mount points with backup=1 go in (PVE's rule); bind mounts and the rest stay out
        var included: [CTConfig.MountPoint] = []
        for mp in ct.mountPoints {
            if mp.volid != nil && mp.options["backup"]?.boolValue == true {
                log("including mount point \(mp.key) ('\(mp.path)') in backup")
                included.append(mp)
            } else {
                log("excluding \(mp.isBind ? "bind" : "volume") mount point \(mp.key) ('\(mp.path)') from backup\(mp.isBind ? "" : " (disabled)")")
            }
        }
        let mountPaths = included.map { $0.path.trimmingCharacters(in: CharacterSet(charactersIn: "/")) }
        // a mount point on the root's own file system (a directory volume, bind mounted) is read with
        // the root; one on another file system is a source of its own (tar and rsync stay on one)
        func separate(under root: String) -> [String] { mountPaths.filter { !Self.sameDevice(root, root + "/" + $0) } }
        let staging = "\(lxcpath)/.backup-\(vmid)"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging + "/etc/vzdump", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try GuestConfig.archivedText(config.current).write(toFile: staging + "/etc/vzdump/pct.conf", atomically: true, encoding: .utf8)
        let firewall = (try? fs.read("firewall/\(vmid).fw")) ?? []
        FileManager.default.createFile(atPath: staging + "/etc/vzdump/pct.fw", contents: Data(firewall))
        // readable from inside the user namespace
        chmod(lxcpath, 0o755)
        _ = try? Command.run(["chmod", "-R", "a+rX", staging])
        let unprivileged = config.current["unprivileged"] == "1"
        let anchored = options.excludePaths.filter { $0.hasPrefix("/") }.map { "--exclude=.\($0)" }
        let anywhere = options.excludePaths.filter { !$0.hasPrefix("/") }.map { "--exclude=\($0)" }
        func tar(_ root: String) throws {
            var command =
                [
                    "tar", "cpf", "-", "--totals", "--one-file-system", "-p", "--sparse", "--numeric-owner", "--acls", "--xattrs",
                    "--xattrs-include=user.*", "--xattrs-include=security.capability", "--warning=no-file-ignored", "--warning=no-xattr-write",
                    "--directory=\(staging)", "./etc/vzdump/pct.conf", "./etc/vzdump/pct.fw", "--directory=\(root)", "--no-anchored",
                    unprivileged ? "--exclude=lost+found" : nil,
                ].compactMap { $0 } + anywhere + ["--anchored", "--exclude=./tmp/?*", "--exclude=./var/tmp/?*", "--exclude=./var/run/?*.pid"]
                + anchored + ["./"] + separate(under: root).map { "./" + $0 }
            if unprivileged {
                try ensureSubordinateIDs()
                let map = "\(LXCConfigBuilder.idShift):\(LXCConfigBuilder.idCount)"
                command = ["lxc-usernsexec", "-m", "u:0:\(map)", "-m", "g:0:\(map)", "--"] + command
            }
            let errors = staging + "/tar.stderr"
            let quoted = command.map(Self.shellQuote).joined(separator: " ") + " 2>" + Self.shellQuote(errors)
            let pipe = try ProcessPipe.reading(["bash", "-c", quoted], input: "/dev/null")
            let report = { for line in ((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "").split(separator: "\n") { log(String(line)) } }
            do {
                try consume(pipe)
                try pipe.finish()
            } catch {
                try? pipe.finish(ignoreStatus: true)
                report()
                throw GuestError(500, "tar failed: \(error)")
            }
            report()
        }
        guard isRunning(vmid), let pid = try container(vmid).initPID else {
            return try withMountedTree(ct, vmid: vmid, mountPoints: included) { root in try tar(root) }
        }
        var mode = options.mode
        if mode == "snapshot" && !included.isEmpty {
            // one snapshot per volume would be needed, taken together: read them in suspend mode
            log("mode failure - mount points are not snapshotted together with the root file system")
            log("trying 'suspend' mode instead")
            mode = "suspend"
        }
        if mode == "snapshot" {
            if let volume = VolumeID(rootfs.volume), let plugin = try? storage.plugin(volume.storage), plugin.canSnapshot(volume.name),
                let snapshotPath = plugin.snapshotPath(volume.name, snapshot: "vzdump")
            {
                log("create storage snapshot 'vzdump'")
                try? plugin.deleteSnapshot(volume.name, snapshot: "vzdump")
                do {
                    // frozen for the moment the snapshot is cut: what the container wrote is in it whole
                    try freeze(vmid)
                    defer { try? thaw(vmid) }
                    try plugin.snapshot(volume.name, snapshot: "vzdump")
                }
                defer {
                    log("cleanup temporary 'vzdump' snapshot")
                    try? plugin.deleteSnapshot(volume.name, snapshot: "vzdump")
                }
                chmod(snapshotPath, 0o755)
                return try tar(snapshotPath)
            }
            log("mode failure - some volumes do not support snapshots")
            log("trying 'suspend' mode instead")
            mode = "suspend"
        }
        if mode == "suspend" {
            // a copy made while the container runs, then a last pass frozen: it pauses only for the delta
            let copy = (options.tmpdir ?? lxcpath) + "/vzdumptmp-\(vmid)"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: copy) }
            let rsync = [
                "rsync", "-aHAX", "--numeric-ids", "--delete", "--sparse", "--one-file-system", "--exclude=/tmp/?*", "--exclude=/var/tmp/?*",
                "/proc/\(pid)/root/", copy + "/",
            ]
            log("starting first sync /proc/\(pid)/root/ to \(copy)")
            var started = Date()
            // the root, then each included mount point (--one-file-system keeps them out of the first)
            let syncs =
                [rsync]
                + separate(under: "/proc/\(pid)/root").map { path in
                    Array(rsync.dropLast(2)) + ["/proc/\(pid)/root/\(path)/", copy + "/" + path + "/"]
                }
            func sync() throws {
                for command in syncs {
                    try FileManager.default.createDirectory(atPath: command[command.count - 1], withIntermediateDirectories: true)
                    // rsync exits 24 when files vanish while it reads: normal for a running system
                    let result = try Command.execute(command)
                    guard result.status == 0 || result.status == 24 else { throw GuestError(500, "rsync failed: \(result.stderr)") }
                }
            }
            try sync()
            log("first sync finished - transferred in \(Int(Date().timeIntervalSince(started))) seconds")
            log("suspending guest")
            started = Date()
            do {
                try freeze(vmid)
                defer { try? thaw(vmid) }
                try sync()
            }
            log("final sync finished - transferred in \(String(format: "%.1f", Date().timeIntervalSince(started))) seconds")
            log("resumed guest")
            chmod(copy, 0o755)
            return try tar(copy)
        }
        // stop mode reaches here only if the caller did not stop it: read it frozen
        log("running container: frozen while its files are archived")
        try freeze(vmid)
        defer { try? thaw(vmid) }
        try tar("/proc/\(pid)/root")
    }

    static func sameDevice(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The config inside an archive (`./etc/vzdump/pct.conf`), parsed.
    public func archivedConfig(_ archive: String) throws -> GuestConfig {
        let path = archive.hasPrefix("/") ? archive : try storage.path(archive)
        if let (store, snapshot) = ChunkedBackupReader.locate(path) {
            guard let text = try ChunkedBackupReader(store: store, snapshot: snapshot).config("pct.conf") else {
                throw GuestError(500, "'\(archive)' holds no container config")
            }
            do { return try GuestConfig.parse(String(decoding: text, as: UTF8.self)) } catch {
                throw GuestError(500, "the archive's pct.conf is invalid: \(error)")
            }
        }
        let result = try Command.execute(["tar", "-xOf", path, "./etc/vzdump/pct.conf"])
        guard result.status == 0, !result.stdout.isEmpty else {
            throw GuestError(500, "'\(archive)' holds no container config (./etc/vzdump/pct.conf)")
        }
        do { return try GuestConfig.parse(result.stdout) } catch { throw GuestError(500, "the archive's pct.conf is invalid: \(error)") }
    }

    /// The create parameters of a restore: the archived config, its rootfs made again at its size on
    /// `storage` (or where it was), what the caller gave on top; `unique` drops the MACs.
    public func restoreParameters(_ given: [String: JSON], archive: String) throws -> [String: JSON] {
        let archived = try archivedConfig(archive).current
        var out: [String: JSON] = [:]
        for (key, value) in archived.values where !key.hasPrefix("mp") && !key.hasPrefix("unused") { out[key] = .string(value) }
        // mount points the backup holds are made again at their size on the target storage; the rest are left out
        for mp in CTConfig(archived).mountPoints where mp.volid != nil && mp.options["backup"]?.boolValue == true {
            let size = mp.options["size"].flatMap { Checks.parseSize($0.plainText) } ?? 0
            let target = given["storage"]?.plainText ?? VolumeID(mp.volume)?.storage ?? "local"
            let rest = archived[mp.key]!.split(separator: ",").dropFirst().filter { !$0.hasPrefix("size=") && !$0.hasPrefix("volume=") }
            out[mp.key] = .string(
                ([size == 0 ? "\(target):0" : "\(target):\(String(format: "%.3f", Double(size) / 1_073_741_824))"] + rest.map(String.init))
                    .joined(separator: ","))
        }
        if let description = archived.description { out["description"] = .string(description) }
        let root = CTConfig(archived).rootfs
        let oldStorage = root.flatMap { VolumeID($0.volume)?.storage }
        // the size it had (a directory without one stays a directory)
        let size = root?.options["size"].flatMap { Checks.parseSize($0.plainText) } ?? 0
        let target = given["storage"]?.plainText ?? oldStorage ?? "local"
        out["rootfs"] = .string(size == 0 ? "\(target):0" : "\(target):\(String(format: "%.3f", Double(size) / 1_073_741_824))")
        if given["unique"]?.boolValue == true {
            for key in archived.values.keys where key.hasPrefix("net") {
                out[key] = .string(archived[key]!.split(separator: ",").filter { !$0.hasPrefix("hwaddr=") }.joined(separator: ","))
            }
        }
        for (key, value) in given where !["restore", "force", "unique", "storage"].contains(key) { out[key] = value }
        return out
    }
}
