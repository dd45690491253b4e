import Foundation
import Glibc
import Schema

/// A directory storage: disk images under `images/<vmid>/`, ISO images under `template/iso/`,
/// container templates under `template/cache/`, backups under `dump/`, snippets under `snippets/`.
public struct DirStorage: StoragePlugin {
    public static let driver = StorageDriver(
        type: "dir", content: ["images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import"],
        defaultContent: ["images", "rootdir"], formats: ["qcow2", "raw", "vmdk", "subvol"], defaultFormat: "raw",
        capabilities: [.snapshots, .linkedClones, .files, .fileContent, .localPaths],
        options: [
            "path": Schema.string(format: "pve-storage-path"), "format": Schema.string(enum: ["raw", "qcow2", "vmdk", "subvol"]).optional(),
            "preallocation": Schema.string(enum: ["off", "metadata", "falloc", "full"]).optional(), "mkdir": Schema.boolean().optional(),
            "create-base-path": Schema.boolean().optional(), "create-subdirs": Schema.boolean().optional(),
            "content-dirs": Schema.string().optional(), "is_mountpoint": Schema.string().optional(),
        ]
    ) { entry throws(StorageError) in try DirStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    /// snapshots (qcow2 only) and linked clones (of qcow2 bases); `shared 1` says the path is the same on every node
    public var capabilities: StorageCapabilities { Self.driver.capabilities.union(entry["shared"] == "1" ? .shared : []) }
    public var defaultFormat: String { entry["format"] ?? "raw" }
    /// `subvol` is a plain directory, for a container's file system without a size limit.
    public var formats: Set<String> { ["qcow2", "raw", "vmdk", "subvol"] }
    let root: String

    public init(entry: StorageConfig.Entry) throws(StorageError) {
        guard let path = entry["path"], path.hasPrefix("/") else { throw StorageError(500, "storage '\(entry.id)' has no absolute 'path'") }
        self.entry = entry
        self.root = path
    }

    /// The directory is made unless `create-base-path 0` (or the older `mkdir 0`) says it must exist
    /// already (a mount point); `is_mountpoint` asks that something is mounted there.
    public func activate() throws(StorageError) {
        let create = (entry["create-base-path"] ?? entry["mkdir"] ?? "1") != "0"
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) {
            guard create else { throw StorageError(500, "unable to activate storage '\(entry.id)' - directory '\(root)' does not exist") }
            do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
                throw StorageError(500, "unable to activate storage '\(entry.id)' - cannot create directory '\(root)': \(error.localizedDescription)")
            }
        } else if !isDirectory.boolValue {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - '\(root)' is not a directory")
        }
        if let mountpoint = entry["is_mountpoint"], !["0", "no", "off"].contains(mountpoint) {
            let target = ["1", "yes", "on"].contains(mountpoint) ? root : mountpoint
            let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
            guard mounts.split(separator: "\n").contains(where: { $0.split(separator: " ").dropFirst().first.map(String.init) == target }) else {
                throw StorageError(
                    500, "unable to activate storage '\(entry.id)' - directory is expected to be a mount point but is not mounted: '\(target)'")
            }
        }
    }

    static let contentDirectories = [
        "iso": "template/iso", "vztmpl": "template/cache", "backup": "dump", "snippets": "snippets", "import": "import",
    ]

    public func path(_ name: String) throws(StorageError) -> String {
        guard !name.contains(".."), !name.hasPrefix("/") else { throw StorageError(400, "invalid volume name '\(name)'") }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2, let dir = Self.contentDirectories[parts[0]] { return "\(root)/\(dir)/\(parts[1])" }
        // images: VMID/FILE, or BASEVMID/BASEFILE/VMID/FILE for a linked clone
        if parts.count == 2, Int(parts[0]) != nil { return "\(root)/images/\(parts[0])/\(parts[1])" }
        if parts.count == 4, Int(parts[0]) != nil, Int(parts[2]) != nil { return "\(root)/images/\(parts[2])/\(parts[3])" }
        throw StorageError(400, "unable to parse volume name '\(name)' of storage '\(entry.id)'")
    }

    func imageDirectory(_ vmid: Int) -> String { "\(root)/images/\(vmid)" }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        guard formats.contains(format) else { throw StorageError(400, "storage '\(entry.id)' does not support format '\(format)'") }
        let dir = imageDirectory(vmid)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw StorageError(wrapping: error, "cannot create \(dir)")
        }
        let existing = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map {
                ($0 as NSString).deletingPathExtension.replacingOccurrences(of: "subvol-", with: "vm-")
            })
        let fresh = nextDiskName(vmid: vmid, existing: existing)
        let file = name ?? (format == "subvol" ? "subvol-" + fresh.dropFirst(3) + ".subvol" : fresh + ".\(format)")
        let full = dir + "/" + file
        guard !FileManager.default.fileExists(atPath: full) else { throw StorageError(400, "disk image '\(full)' already exists") }
        if format == "subvol" {
            guard mkdir(full, 0o755) == 0 else { throw StorageError(500, "cannot create \(full): \(String(cString: strerror(errno)))") }
            return "\(vmid)/\(file)"
        }
        try run(
            ["qemu-img", "create", "-f", format] + (format == "qcow2" ? ["-o", "preallocation=metadata,lazy_refcounts=on"] : []) + [
                full, "\(size / 1024)K",
            ])
        return "\(vmid)/\(file)"
    }

    public func free(_ name: String) throws(StorageError) {
        let file = try path(name)
        // a backup's notes and log go with it (its protection marker stays only while it exists)
        if name.hasPrefix("backup/"), let archive = BackupArchive(name: name) {
            let dir = (file as NSString).deletingLastPathComponent
            for side in [BackupArchive.notesPath(file), archive.logPath(directory: dir)] { unlink(side) }
        }
        if isDirectory(file) {
            do { try FileManager.default.removeItem(atPath: file) } catch { throw StorageError(wrapping: error, "cannot remove \(file)") }
        } else if unlink(file) != 0 && errno != ENOENT {
            throw StorageError(500, "cannot remove \(file): \(String(cString: strerror(errno)))")
        }
        // the per-VM directory goes once empty, so a destroyed guest leaves nothing behind
        let dir = (file as NSString).deletingLastPathComponent
        if dir.hasPrefix(root + "/images/") { rmdir(dir) }
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        let fm = FileManager.default
        var out: [VolumeInfo] = []
        let types = content.map { [$0] } ?? Array(entry.content)
        for type in types where entry.content.contains(type) {
            if type == "images" {
                let vmids = ((try? fm.contentsOfDirectory(atPath: root + "/images")) ?? []).compactMap(Int.init).filter { vmid == nil || $0 == vmid }
                for owner in vmids.sorted() {
                    for file in ((try? fm.contentsOfDirectory(atPath: imageDirectory(owner))) ?? []).sorted() {
                        let full = imageDirectory(owner) + "/" + file
                        if file.hasPrefix("subvol-") && isDirectory(full) {
                            out.append(
                                VolumeInfo(
                                    volid: "\(entry.id):\(owner)/\(file)", content: "images", format: "subvol", size: 0, used: nil, vmid: owner,
                                    ctime: mtime(full), parent: nil))
                            continue
                        }
                        let ext = (file as NSString).pathExtension
                        guard formats.contains(ext) else { continue }
                        let info = try? imageInfo(full)
                        var name = "\(owner)/\(file)"
                        if let backing = info?.backing,
                            let baseVMID = Int((backing as NSString).deletingLastPathComponent.split(separator: "/").last ?? "")
                        {
                            name = "\(baseVMID)/\((backing as NSString).lastPathComponent)/\(owner)/\(file)"
                        }
                        out.append(
                            VolumeInfo(
                                volid: "\(entry.id):\(name)", content: "images", format: ext, size: info?.size ?? fileSize(full),
                                used: info?.used ?? fileSize(full), vmid: owner, ctime: mtime(full),
                                parent: info?.backing.map {
                                    "\(entry.id):\(Int((($0 as NSString).deletingLastPathComponent as NSString).lastPathComponent) ?? 0)/\(($0 as NSString).lastPathComponent)"
                                }))
                    }
                }
            } else if let dir = Self.contentDirectories[type], vmid == nil || type == "backup" {
                for file in ((try? fm.contentsOfDirectory(atPath: root + "/" + dir)) ?? []).sorted() where !file.hasPrefix(".") {
                    let full = root + "/" + dir + "/" + file
                    var isDir: ObjCBool = false
                    guard fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
                    let format = type == "iso" ? "iso" : type == "vztmpl" ? "tgz" : (file as NSString).pathExtension
                    var info = VolumeInfo(
                        volid: "\(entry.id):\(type)/\(file)", content: type, format: format, size: fileSize(full), used: nil, vmid: nil,
                        ctime: mtime(full), parent: nil)
                    if type == "backup" {
                        guard BackupArchive.isArchive(file), let archive = BackupArchive(name: file) else { continue }
                        if let vmid, archive.vmid != vmid { continue }
                        info.vmid = archive.vmid
                        info.ctime = archive.ctime
                        info.subtype = archive.type
                        info.format = Self.backupFormat(file)
                        info.notes = (try? String(contentsOfFile: BackupArchive.notesPath(full), encoding: .utf8))
                            .flatMap { $0.split(separator: "\n").first.map(String.init) }
                        info.protected = FileManager.default.fileExists(atPath: archive.protectedPath(directory: root + "/" + dir))
                    }
                    out.append(info)
                }
            }
        }
        return out
    }

    /// A backup's format as PVE names it: the archive kind with its compression (`vma.zst`, `tar.gz`).
    static func backupFormat(_ file: String) -> String {
        for kind in ["vma", "tar", "tgz"] {
            if let range = file.range(of: ".\(kind)") { return String(file[file.index(after: range.lowerBound)...]) }
        }
        return (file as NSString).pathExtension
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        var st = statvfs()
        guard statvfs(root, &st) == 0 else { throw StorageError(500, "cannot read the status of \(root): \(String(cString: strerror(errno)))") }
        let block = Int64(st.f_frsize)
        let total = Int64(st.f_blocks) * block, free = Int64(st.f_bfree) * block, available = Int64(st.f_bavail) * block
        return (total, total - free, available)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        let file = try path(name)
        return isDirectory(file) ? 0 : try imageInfo(file).size
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        let file = try path(name)
        guard !isDirectory(file) else { throw StorageError(400, "'\(entry.id):\(name)' is a directory volume without a size") }
        try run(["qemu-img", "resize", "-f", name.hasSuffix(".raw") ? "raw" : name.hasSuffix(".vmdk") ? "vmdk" : "qcow2", file, "\(bytes)"])
    }

    public func canSnapshot(_ name: String) -> Bool { name.hasSuffix(".qcow2") }

    public func snapshot(_ name: String, snapshot: String) throws(StorageError) {
        guard canSnapshot(name) else {
            throw StorageError(400, "volume '\(entry.id):\(name)' cannot take snapshots (only qcow2 can on a dir storage)")
        }
        try run(["qemu-img", "snapshot", "-c", snapshot, try path(name)])
    }

    public func rollback(_ name: String, snapshot: String) throws(StorageError) {
        try run(["qemu-img", "snapshot", "-a", snapshot, try path(name)])
    }

    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) {
        try run(["qemu-img", "snapshot", "-d", snapshot, try path(name)])
    }

    public func makeBase(_ name: String) throws(StorageError) -> String {
        let parts = name.split(separator: "/").map(String.init)
        guard parts.count == 2, parts[1].hasPrefix("vm-") || parts[1].hasPrefix("subvol-") else {
            throw StorageError(400, "volume '\(name)' cannot become a base volume")
        }
        // a directory volume's base is `basevol-…`, an image's `base-…` (PVE's names)
        let baseName = parts[1].hasPrefix("subvol-") ? "\(parts[0])/basevol-" + parts[1].dropFirst(7) : "\(parts[0])/base-" + parts[1].dropFirst(3)
        let from = try path(name), to = try path(baseName)
        guard rename(from, to) == 0 else { throw StorageError(500, "cannot rename \(from): \(String(cString: strerror(errno)))") }
        chmod(to, 0o444)
        return baseName
    }

    public func canLinkClone(_ name: String) -> Bool { name.hasSuffix(".qcow2") && VolumeID(storage: entry.id, name: name).isBase }

    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        guard canLinkClone(base) else { throw StorageError(400, "linked clones need a qcow2 base volume; '\(base)' is not one") }
        _ = try path(base)  // refuses names that would leave the storage
        let dir = imageDirectory(vmid)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw StorageError(wrapping: error, "cannot create \(dir)")
        }
        let existing = Set(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map { ($0 as NSString).deletingPathExtension })
        let file = name ?? nextDiskName(vmid: vmid, existing: existing) + ".qcow2"
        let baseParts = base.split(separator: "/")
        // the backing file is named relative to the clone, as PVE writes it, so a moved storage still works
        try run(
            ["qemu-img", "create", "-f", "qcow2", "-F", "qcow2", "-b", "../\(baseParts[0])/\(baseParts.last!)", dir + "/" + file], directory: dir)
        return "\(baseParts[0])/\(baseParts.last!)/\(vmid)/\(file)"
    }

    struct ImageInfo { var size: Int64; var used: Int64?; var backing: String? }

    func imageInfo(_ path: String) throws(StorageError) -> ImageInfo {
        let out = try run(["qemu-img", "info", "--output=json", "-U", path])
        let json = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any] ?? [:]
        let size = (json["virtual-size"] as? NSNumber)?.int64Value ?? fileSize(path)
        let used = (json["actual-size"] as? NSNumber)?.int64Value
        return ImageInfo(size: size, used: used, backing: json["backing-filename"] as? String)
    }

    @discardableResult
    func run(_ arguments: [String], directory: String? = nil) throws(StorageError) -> String {
        do {
            if let directory {
                // qemu-img resolves a relative backing file against the new image's directory
                return try Command.run(["sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + arguments)
            }
            return try Command.run(arguments)
        } catch { throw StorageError(wrapping: error) }
    }

    func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    func fileSize(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

    func mtime(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_mtim.tv_sec) : nil
    }
}
