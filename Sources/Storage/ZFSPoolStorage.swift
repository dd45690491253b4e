import Foundation
import Schema

/// A ZFS pool (PVE's `zfspool`): a VM disk is a zvol `<pool>/vm-<vmid>-disk-<n>` (a block device
/// under /dev/zvol), a container volume a file system `<pool>/subvol-<vmid>-disk-<n>` with a
/// `refquota` for its size. Snapshots are ZFS snapshots; a template's volume is renamed `base-…`
/// and snapshotted as `@__base__`, which linked clones are `zfs clone`s of.
public struct ZFSPoolStorage: StoragePlugin {
    public static let driver = StorageDriver(
        type: "zfspool", content: ["images", "rootdir"], defaultContent: ["images", "rootdir"], formats: ["raw", "subvol"], defaultFormat: "raw",
        capabilities: [.snapshots, .linkedClones, .localPaths, .sizedDirectories],
        options: [
            "pool": Schema.string(), "blocksize": Schema.string(pattern: "[1-9][0-9]*[kKmM]?").optional(), "sparse": Schema.boolean().optional(),
            "mountpoint": Schema.string(format: "pve-storage-path").optional(),
        ]
    ) { entry throws(StorageError) in try ZFSPoolStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities }
    public var defaultFormat: String { "raw" }
    public var formats: Set<String> { ["raw", "subvol"] }
    let pool: String
    let runner: CommandRunner

    public init(entry: StorageConfig.Entry, runner: CommandRunner = .system) throws(StorageError) {
        guard let pool = entry["pool"], !pool.hasPrefix("/"), !pool.contains("..") else {
            throw StorageError(500, "storage '\(entry.id)' needs 'pool'")
        }
        self.entry = entry
        self.pool = pool
        self.runner = runner
    }

    /// `base-100-disk-0/vm-101-disk-0` (a linked clone) is the dataset `vm-101-disk-0`.
    func dataset(_ name: String) throws(StorageError) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? ""
        guard !last.isEmpty, !name.contains(".."), name.split(separator: "/").count <= 2,
            last.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) })
        else {
            throw StorageError(400, "invalid volume name '\(name)' of storage '\(entry.id)'")
        }
        return "\(pool)/\(last)"
    }

    func isSubvol(_ name: String) -> Bool {
        let last = name.split(separator: "/").last ?? ""
        return last.hasPrefix("subvol-") || last.hasPrefix("basevol-")
    }

    public func path(_ name: String) throws(StorageError) -> String {
        let set = try dataset(name)
        guard isSubvol(name) else { return "/dev/zvol/\(set)" }
        return (entry["mountpoint"].map { $0 + "/" + set.dropFirst(pool.count + 1) }) ?? "/\(set)"
    }

    struct Dataset { var name: String; var type: String; var size: Int64; var origin: String }

    func datasets() throws(StorageError) -> [Dataset] {
        let out = try runner.run([
            "zfs", "list", "-H", "-p", "-r", "-d", "1", "-t", "volume,filesystem", "-o", "name,type,volsize,refquota,origin", pool,
        ])
        return out.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 5, f[0] != pool else { return nil }
            let size = f[1] == "volume" ? Int64(f[2]) ?? 0 : Int64(f[3]) ?? 0
            return Dataset(name: String(f[0].dropFirst(pool.count + 1)), type: f[1], size: size, origin: f[4] == "-" ? "" : f[4])
        }
    }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        guard formats.contains(format) else { throw StorageError(400, "storage '\(entry.id)' holds raw and subvol volumes, not '\(format)'") }
        let existing = Set(try datasets().map { $0.name.replacingOccurrences(of: "subvol-", with: "vm-") })
        let fresh = nextDiskName(vmid: vmid, existing: existing)
        let volume = name ?? (format == "subvol" ? "subvol-" + fresh.dropFirst(3) : fresh)
        let set = try dataset(volume)
        let kib = (size + 1023) / 1024
        if format == "subvol" {
            var command = ["zfs", "create", "-o", "acltype=posixacl", "-o", "xattr=sa"]
            if kib > 0 { command += ["-o", "refquota=\(kib)k"] }
            try runner.run(command + [set])
        } else {
            var command = ["zfs", "create"]
            if entry["sparse"] == "1" { command.append("-s") }
            if let block = entry["blocksize"] { command += ["-b", block] }
            try runner.run(command + ["-V", "\(kib)k", set])
        }
        return volume
    }

    public func free(_ name: String) throws(StorageError) {
        // its snapshots go with it (-r); a base with clones cannot go (zfs says so)
        try runner.run(["zfs", "destroy", "-r", try dataset(name)])
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "images" || content == "rootdir" else { return [] }
        return try datasets().compactMap { set in
            guard let owner = VolumeID(storage: entry.id, name: set.name).ownerVMID, vmid == nil || owner == vmid else { return nil }
            let base = set.origin.split(separator: "/").last.map { String($0.split(separator: "@").first ?? "") } ?? ""
            let name = base.isEmpty ? set.name : "\(base)/\(set.name)"
            return VolumeInfo(
                volid: "\(entry.id):\(name)", content: set.type == "volume" ? "images" : "rootdir", format: set.type == "volume" ? "raw" : "subvol",
                size: set.size, used: nil, vmid: owner, ctime: nil, parent: base.isEmpty ? nil : "\(entry.id):\(base)")
        }
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        let out = try runner.run(["zfs", "get", "-H", "-p", "-o", "value", "available,used", pool])
        let f = out.split(separator: "\n").map { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard f.count == 2, let available = f[0], let used = f[1] else {
            throw StorageError(500, "cannot read pool '\(pool)' of storage '\(entry.id)'")
        }
        return (available + used, used, available)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        let set = try dataset(name)
        let out = try runner.run(["zfs", "get", "-H", "-p", "-o", "value", isSubvol(name) ? "refquota" : "volsize", set])
        return Int64(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        let kib = (bytes + 1023) / 1024
        try runner.run(["zfs", "set", isSubvol(name) ? "refquota=\(kib)k" : "volsize=\(kib)k", try dataset(name)])
    }

    public func canSnapshot(_ name: String) -> Bool { (try? dataset(name)) != nil }
    public func snapshot(_ name: String, snapshot: String) throws(StorageError) {
        try runner.run(["zfs", "snapshot", "\(try dataset(name))@\(snapshot)"])
    }
    /// `-r`: newer snapshots go (ZFS rolls back to the newest only otherwise)
    public func rollback(_ name: String, snapshot: String) throws(StorageError) {
        try runner.run(["zfs", "rollback", "-r", "\(try dataset(name))@\(snapshot)"])
    }
    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) {
        try runner.run(["zfs", "destroy", "\(try dataset(name))@\(snapshot)"])
    }

    public func makeBase(_ name: String) throws(StorageError) -> String {
        let last = String(name.split(separator: "/").last ?? "")
        guard last.hasPrefix("vm-") || last.hasPrefix("subvol-") else { throw StorageError(400, "volume '\(name)' cannot become a base volume") }
        let base = last.hasPrefix("vm-") ? "base-" + last.dropFirst(3) : "basevol-" + last.dropFirst(7)
        try runner.run(["zfs", "rename", try dataset(last), try dataset(base)])
        try runner.run(["zfs", "snapshot", "\(try dataset(base))@__base__"])
        return base
    }

    public func canLinkClone(_ name: String) -> Bool { VolumeID(storage: entry.id, name: name).isBase }

    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        guard canLinkClone(base) else { throw StorageError(400, "'\(base)' is not a base volume of storage '\(entry.id)'") }
        let baseSet = try dataset(base)
        let existing = Set(try datasets().map { $0.name.replacingOccurrences(of: "subvol-", with: "vm-") })
        let fresh = nextDiskName(vmid: vmid, existing: existing)
        let volume = name ?? (isSubvol(base) ? "subvol-" + fresh.dropFirst(3) : fresh)
        try runner.run(["zfs", "clone", "\(baseSet)@__base__", try dataset(volume)])
        return "\(base.split(separator: "/").last ?? "")/\(volume)"
    }

    /// The pool must be imported (it is imported here if it is not), and be a pool.
    public func activate() throws(StorageError) {
        let root = String(pool.split(separator: "/").first ?? "")
        if !runner.succeeds(["zpool", "list", "-H", "-o", "name", root]) {
            guard runner.succeeds(["zpool", "import", "-d", "/dev/disk/by-id/", "-o", "cachefile=none", root]) else {
                throw StorageError(500, "unable to activate storage '\(entry.id)' - pool '\(root)' not found (zpool import failed)")
            }
        }
        guard runner.succeeds(["zfs", "list", "-H", "-o", "name", pool]) else {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - dataset '\(pool)' not found")
        }
    }

    /// A zvol's device appears asynchronously after creation: wait for it (up to 10 s).
    public func activateVolume(_ name: String) throws(StorageError) {
        guard !isSubvol(name) else { return }
        let device = try path(name)
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: device) { usleep(100_000) }
        guard FileManager.default.fileExists(atPath: device) else { throw StorageError(500, "zvol device '\(device)' did not appear") }
    }
}
