import Foundation
import Glibc
import Schema

/// A btrfs storage (PVE's layout): a directory storage whose guest volumes are subvolumes. A VM
/// disk `VMID/vm-VMID-disk-N.raw` is the file `disk.raw` inside the subvolume
/// `images/VMID/vm-VMID-disk-N`; a container volume `VMID/subvol-VMID-disk-N.subvol` is the subvolume
/// `images/VMID/subvol-VMID-disk-N` itself. Snapshots are read-only snapshots `<subvolume>@<name>`,
/// linked clones writable snapshots of a base subvolume. Files of other content live as on `dir`.
public struct BTRFSStorage: StoragePlugin {
    public static let driver = StorageDriver(
        type: "btrfs", content: ["images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import"],
        defaultContent: ["images", "rootdir"], formats: ["raw", "subvol"], defaultFormat: "raw",
        capabilities: [.snapshots, .linkedClones, .files, .fileContent, .localPaths, .sizedDirectories],
        options: [
            "path": Schema.string(format: "pve-storage-path"), "format": Schema.string(enum: ["raw", "subvol"]).optional(),
            "nocow": Schema.boolean().optional(), "preallocation": Schema.string(enum: ["off", "metadata", "falloc", "full"]).optional(),
            "is_mountpoint": Schema.string().optional(),
        ]
    ) { entry throws(StorageError) in try BTRFSStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities.union(entry["shared"] == "1" ? .shared : []) }
    public var defaultFormat: String { entry["format"] ?? "raw" }
    public var formats: Set<String> { ["raw", "subvol"] }
    /// Files of every other content type are a directory storage's.
    let files: DirStorage
    var root: String { files.root }

    public init(entry: StorageConfig.Entry) throws(StorageError) {
        self.entry = entry
        self.files = try DirStorage(entry: entry)
    }

    /// The path must exist (as for `dir`) and be on btrfs.
    public func activate() throws(StorageError) {
        try files.activate()
        let type = (try? Command.run(["stat", "-f", "-c", "%T", root]))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard type == "btrfs" else {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - '\(root)' is not on a btrfs file system")
        }
    }

    // MARK: names

    struct Volume {
        var vmid: Int
        /// `vm-100-disk-0`, `base-100-disk-0`, `subvol-100-disk-0`, `basevol-100-disk-0`
        var stem: String
        var format: String
        var file: String { stem + (format == "raw" ? ".raw" : ".subvol") }
    }

    /// The guest volume a name stands for (the last two parts of a linked clone's four).
    func volume(_ name: String) throws(StorageError) -> Volume? {
        guard !name.contains(".."), !name.hasPrefix("/") else { throw StorageError(400, "invalid volume name '\(name)'") }
        let parts = name.split(separator: "/").map(String.init)
        guard parts.count == 2 || parts.count == 4, let vmid = Int(parts[parts.count - 2]) else { return nil }
        let file = parts[parts.count - 1]
        for (suffix, format) in [(".raw", "raw"), (".subvol", "subvol")] where file.hasSuffix(suffix) {
            return Volume(vmid: vmid, stem: String(file.dropLast(suffix.count)), format: format)
        }
        throw StorageError(400, "unable to parse volume name '\(name)' of btrfs storage '\(entry.id)'")
    }

    func subvolume(_ v: Volume) -> String { "\(root)/images/\(v.vmid)/\(v.stem)" }

    public func path(_ name: String) throws(StorageError) -> String {
        guard let v = try volume(name) else { return try files.path(name) }
        return v.format == "raw" ? subvolume(v) + "/disk.raw" : subvolume(v)
    }

    // MARK: volumes

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        guard formats.contains(format) else { throw StorageError(400, "storage '\(entry.id)' does not support format '\(format)' (raw or subvol)") }
        let dir = "\(root)/images/\(vmid)"
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw StorageError(wrapping: error, "cannot create \(dir)")
        }
        let existing = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.contains("@") }.map {
                $0.replacingOccurrences(of: "subvol-", with: "vm-").replacingOccurrences(of: "basevol-", with: "base-")
            })
        let fresh = nextDiskName(vmid: vmid, existing: existing)
        let file = name ?? (format == "subvol" ? "subvol-" + fresh.dropFirst(3) + ".subvol" : fresh + ".raw")
        guard let v = try volume("\(vmid)/\(file)"), v.format == format else {
            throw StorageError(400, "volume name '\(file)' does not match format '\(format)'")
        }
        let sub = subvolume(v)
        guard !FileManager.default.fileExists(atPath: sub) else { throw StorageError(400, "volume '\(entry.id):\(vmid)/\(file)' already exists") }
        try btrfs(["subvolume", "create", sub])
        do {
            if format == "raw" {
                let disk = sub + "/disk.raw"
                guard FileManager.default.createFile(atPath: disk, contents: nil) else { throw StorageError(500, "cannot create \(disk)") }
                // copy-on-write off before the first byte is written (it only applies to empty files)
                if entry["nocow"] == "1" { _ = try? Command.run(["chattr", "+C", disk]) }
                guard truncate(disk, off_t(size)) == 0 else { throw StorageError(500, "cannot size \(disk): \(String(cString: strerror(errno)))") }
                if entry["preallocation"] == "full" || entry["preallocation"] == "falloc" {
                    _ = try Command.run(["fallocate", "-l", "\(size)", disk])
                }
            } else if size > 0 {
                try limit(sub, bytes: size)
            }
        } catch {
            _ = try? btrfs(["subvolume", "delete", sub])
            throw StorageError(wrapping: error)
        }
        return "\(vmid)/\(file)"
    }

    /// A directory volume's size: a qgroup limit where quotas are on (a size is only recorded otherwise).
    func limit(_ subvolume: String, bytes: Int64) throws(StorageError) {
        guard (try? Command.execute(["btrfs", "qgroup", "show", subvolume]))?.status == 0 else { return }
        try btrfs(["qgroup", "limit", "\(bytes)", subvolume])
    }

    public func free(_ name: String) throws(StorageError) {
        guard let v = try volume(name) else {
            try files.free(name)
            return
        }
        let sub = subvolume(v), dir = (sub as NSString).deletingLastPathComponent
        // its snapshots first: a subvolume with snapshots of its own would leave them behind
        for snapshot in snapshots(of: v) { try btrfs(["subvolume", "delete", dir + "/" + v.stem + "@" + snapshot]) }
        if FileManager.default.fileExists(atPath: sub) { try btrfs(["subvolume", "delete", sub]) }
        rmdir(dir)
    }

    func snapshots(of v: Volume) -> [String] {
        let dir = "\(root)/images/\(v.vmid)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap {
            $0.hasPrefix(v.stem + "@") ? String($0.dropFirst(v.stem.count + 1)) : nil
        }
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        var out = try files.list(content: content, vmid: vmid).filter { $0.content != "images" }
        guard content == nil || content == "images" || content == "rootdir", entry.content.contains("images") || entry.content.contains("rootdir")
        else {
            return out
        }
        let fm = FileManager.default
        let owners = ((try? fm.contentsOfDirectory(atPath: root + "/images")) ?? []).compactMap(Int.init).filter { vmid == nil || $0 == vmid }
        for owner in owners.sorted() {
            for stem in ((try? fm.contentsOfDirectory(atPath: "\(root)/images/\(owner)")) ?? []).sorted() where !stem.contains("@") {
                let sub = "\(root)/images/\(owner)/\(stem)"
                let isRaw = fm.fileExists(atPath: sub + "/disk.raw")
                let v = Volume(vmid: owner, stem: stem, format: isRaw ? "raw" : "subvol")
                let size = isRaw ? files.fileSize(sub + "/disk.raw") : 0
                out.append(
                    VolumeInfo(
                        volid: "\(entry.id):\(owner)/\(v.file)", content: isRaw ? "images" : "rootdir", format: v.format, size: size,
                        used: nil, vmid: owner, ctime: files.mtime(sub), parent: nil))
            }
        }
        return out
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) { try files.status() }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        guard let v = try volume(name) else { return try files.size(name) }
        return v.format == "raw" ? files.fileSize(try path(name)) : 0
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        guard let v = try volume(name) else { return try files.resize(name, to: bytes) }
        if v.format == "subvol" { return try limit(subvolume(v), bytes: bytes) }
        let disk = try path(name)
        guard truncate(disk, off_t(bytes)) == 0 else { throw StorageError(500, "cannot resize \(disk): \(String(cString: strerror(errno)))") }
    }

    // MARK: snapshots and clones

    public func canSnapshot(_ name: String) -> Bool { (try? volume(name)) != nil }

    /// A subvolume's snapshot is a read-only subvolume beside it (`<stem>@<snapshot>`).
    public func snapshotPath(_ name: String, snapshot: String) -> String? {
        guard let v = try? volume(name), v.format == "subvol" else { return nil }
        return subvolume(v) + "@" + snapshot
    }

    public func snapshot(_ name: String, snapshot: String) throws(StorageError) {
        guard let v = try volume(name) else { throw StorageError(400, "'\(entry.id):\(name)' is not a guest volume") }
        let sub = subvolume(v)
        // what the guest wrote is on disk before the snapshot is cut
        if v.format == "raw" { sync() }
        try btrfs(["subvolume", "snapshot", "-r", sub, sub + "@" + snapshot])
    }

    public func rollback(_ name: String, snapshot: String) throws(StorageError) {
        guard let v = try volume(name) else { throw StorageError(400, "'\(entry.id):\(name)' is not a guest volume") }
        let sub = subvolume(v), saved = sub + "@" + snapshot
        guard FileManager.default.fileExists(atPath: saved) else {
            throw StorageError(500, "snapshot '\(snapshot)' of '\(entry.id):\(name)' does not exist")
        }
        // the current state goes aside first, so a failed snapshot leaves it in place
        let aside = sub + "@.rollback-\(getpid())"
        guard rename(sub, aside) == 0 else { throw StorageError(500, "cannot move \(sub) aside: \(String(cString: strerror(errno)))") }
        do {
            try btrfs(["subvolume", "snapshot", saved, sub])
        } catch {
            rename(aside, sub)
            throw error
        }
        _ = try? btrfs(["subvolume", "delete", aside])
    }

    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) {
        guard let v = try volume(name) else { throw StorageError(400, "'\(entry.id):\(name)' is not a guest volume") }
        try btrfs(["subvolume", "delete", subvolume(v) + "@" + snapshot])
    }

    public func makeBase(_ name: String) throws(StorageError) -> String {
        guard let v = try volume(name), name.split(separator: "/").count == 2, v.stem.hasPrefix("vm-") || v.stem.hasPrefix("subvol-") else {
            throw StorageError(400, "volume '\(name)' cannot become a base volume")
        }
        let stem = v.stem.hasPrefix("vm-") ? "base-" + v.stem.dropFirst(3) : "basevol-" + v.stem.dropFirst(7)
        let base = Volume(vmid: v.vmid, stem: stem, format: v.format)
        guard rename(subvolume(v), subvolume(base)) == 0 else {
            throw StorageError(500, "cannot rename \(subvolume(v)): \(String(cString: strerror(errno)))")
        }
        // a base volume never changes: linked clones share its extents
        try btrfs(["property", "set", subvolume(base), "ro", "true"])
        return "\(v.vmid)/\(base.file)"
    }

    public func canLinkClone(_ name: String) -> Bool {
        guard let v = try? volume(name) else { return false }
        return v.stem.hasPrefix("base-") || v.stem.hasPrefix("basevol-")
    }

    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        guard canLinkClone(base), let b = try volume(base) else { throw StorageError(400, "'\(base)' is not a base volume of storage '\(entry.id)'") }
        let dir = "\(root)/images/\(vmid)"
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw StorageError(wrapping: error, "cannot create \(dir)")
        }
        let existing = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map { $0.replacingOccurrences(of: "subvol-", with: "vm-") })
        let fresh = nextDiskName(vmid: vmid, existing: existing)
        let file = name ?? (b.format == "subvol" ? "subvol-" + fresh.dropFirst(3) + ".subvol" : fresh + ".raw")
        guard let v = try volume("\(vmid)/\(file)") else { throw StorageError(400, "invalid volume name '\(file)'") }
        try btrfs(["subvolume", "snapshot", subvolume(b), subvolume(v)])
        return "\(b.vmid)/\(b.file)/\(vmid)/\(file)"
    }

    @discardableResult
    func btrfs(_ arguments: [String]) throws(StorageError) -> String {
        do { return try Command.run(["btrfs"] + arguments) } catch {
            throw StorageError(500, "storage '\(entry.id)': \(error)")
        }
    }
}
