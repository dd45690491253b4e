import Archive
import Foundation
import Schema

/// A volume ID split at its first colon: `local:100/vm-100-disk-0.qcow2` → storage `local`, name
/// `100/vm-100-disk-0.qcow2`.
public struct VolumeID: Hashable, Sendable, CustomStringConvertible {
    public let storage: String
    public let name: String

    public init(storage: String, name: String) {
        self.storage = storage
        self.name = name
    }

    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) < text.endIndex else { return nil }
        storage = String(text[..<colon])
        name = String(text[text.index(after: colon)...])
    }

    public var description: String { "\(storage):\(name)" }

    /// The owning VMID of a guest volume name (`vm-100-disk-0`, `base-100-disk-0`, `100/…`), if any.
    public var ownerVMID: Int? {
        let file = name.split(separator: "/").last.map(String.init) ?? name
        let parts = file.split(separator: "-")
        guard parts.count >= 3, ["vm", "base", "subvol", "basevol"].contains(parts[0]) else { return nil }
        return Int(parts[1])
    }

    /// `storage:SIZE` (`local:8`) in a volume's place asks for a new volume of SIZE GiB; nil for a volume name.
    public var newVolumeGiB: Double? {
        guard !name.contains("/"), let gib = Double(name), gib >= 0, gib.isFinite else { return nil }
        return gib
    }

    /// A base image (a template's disk) that linked clones may share.
    public var isBase: Bool {
        let file = name.split(separator: "/").last.map(String.init) ?? name
        return file.hasPrefix("base-") || file.hasPrefix("basevol-")
    }
}

/// One volume as the storage content listing shows it.
public struct VolumeInfo: Sendable {
    public var volid: String
    public var content: String
    public var format: String
    public var size: Int64
    public var used: Int64?
    public var vmid: Int?
    public var ctime: Int64?
    /// The base volume a linked clone depends on.
    public var parent: String?
    /// Backups: their notes (the first line in listings) and whether they are protected.
    public var notes: String? = nil
    public var protected: Bool? = nil
    /// Backups: the guest type (`qemu`, `lxc`).
    public var subtype: String? = nil
}

/// What a storage backend does for guests. One implementation per storage type, chosen by the
/// section type of `storage.cfg` through the registry (`StorageDrivers`); see `Storage.plugin(for:)`.
public protocol StoragePlugin: Sendable {
    var entry: StorageConfig.Entry { get }
    /// What this type can do (from its registry row).
    var capabilities: StorageCapabilities { get }
    /// The default image format when a disk is allocated without one.
    var defaultFormat: String { get }
    var formats: Set<String> { get }

    /// The local path or device of a volume (by its name, the part after the colon).
    func path(_ name: String) throws(StorageError) -> String
    /// Creates a new disk image for `vmid` and returns its name. `size` is in bytes.
    func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String
    func free(_ name: String) throws(StorageError)
    func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo]
    func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64)
    /// The virtual size of a disk image in bytes.
    func size(_ name: String) throws(StorageError) -> Int64
    func resize(_ name: String, to bytes: Int64) throws(StorageError)

    /// Offline snapshots of one volume (the guest is stopped, or its writes are paused).
    func canSnapshot(_ name: String) -> Bool
    func snapshot(_ name: String, snapshot: String) throws(StorageError)
    func rollback(_ name: String, snapshot: String) throws(StorageError)
    func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError)
    /// Where a snapshot of a directory volume can be read as files (a container backup's snapshot
    /// mode); nil where the storage has no such view.
    func snapshotPath(_ name: String, snapshot: String) -> String?

    /// Turns a guest disk into a template's base volume; returns the new name.
    func makeBase(_ name: String) throws(StorageError) -> String
    /// A copy-on-write clone of a base volume for `vmid`.
    func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String
    func canLinkClone(_ name: String) -> Bool

    /// Pool lifecycle: makes the storage usable on this node (mounts, logs in, checks the pool);
    /// deactivation undoes it. Both are idempotent.
    func activate() throws(StorageError)
    func deactivate() throws(StorageError)
    /// Makes one volume usable (an LV activated, a LUN mapped) before a guest opens it.
    func activateVolume(_ name: String) throws(StorageError)
    func deactivateVolume(_ name: String) throws(StorageError)

    /// The stream formats a volume can be exported in, best first (PVE's `raw+size`, `qcow2+size`, …).
    func exportFormats(_ name: String) -> [String]
    /// Writes a volume to `sink` in `format` (for migration and backup).
    func export(_ name: String, format: String, to sink: any VolumeSink) throws(StorageError)
    /// Creates a volume for `vmid` from a stream in `format` and returns its name.
    func importVolume(vmid: Int, format: String, name: String?, from source: any VolumeSource) throws(StorageError) -> String

    /// Where a backup volume keeps its notes, protection marker and log; nil when `name` is no backup.
    func backupSideFile(_ name: String, _ kind: BackupSideFile) -> String?
    /// The guest type (`qemu`, `lxc`) and VMID of a backup volume; nil when `name` is no backup.
    func backupOwner(_ name: String) -> (type: String, vmid: Int)?
}

/// The files beside a backup.
public enum BackupSideFile: Sendable { case notes, protected, log }

extension StoragePlugin {
    /// vzdump archives: `<archive>.notes`, `<archive>.protected`, `<stem>.log` beside the archive.
    public func backupSideFile(_ name: String, _ kind: BackupSideFile) -> String? {
        guard capabilities.contains(.fileContent), let archive = BackupArchive(name: name), let path = try? path(name) else { return nil }
        let directory = (path as NSString).deletingLastPathComponent
        switch kind {
        case .notes: return BackupArchive.notesPath(path)
        case .protected: return archive.protectedPath(directory: directory)
        case .log: return archive.logPath(directory: directory)
        }
    }

    public func backupOwner(_ name: String) -> (type: String, vmid: Int)? {
        if let archive = BackupArchive(name: name) { return (archive.type, archive.vmid) }
        guard name.hasPrefix("backup/"), let parsed = ChunkStore.parse(String(name.dropFirst(7))) else { return nil }
        return (parsed.type, parsed.vmid)
    }

    public func snapshotPath(_ name: String, snapshot: String) -> String? { nil }

    public func activate() throws(StorageError) {}
    public func deactivate() throws(StorageError) {}
    public func activateVolume(_ name: String) throws(StorageError) {}
    public func deactivateVolume(_ name: String) throws(StorageError) {}

    /// File and block volumes export their bytes as they are: `raw+size` for raw images and devices,
    /// `qcow2+size` for qcow2 files.
    public func exportFormats(_ name: String) -> [String] {
        if name.hasSuffix(".subvol") { return ["tar+size"] }
        return name.hasSuffix(".qcow2") ? ["qcow2+size"] : name.hasSuffix(".vmdk") ? ["vmdk+size"] : ["raw+size"]
    }

    public func export(_ name: String, format: String, to sink: any VolumeSink) throws(StorageError) {
        guard exportFormats(name).contains(format) else {
            throw StorageError(
                400,
                "volume '\(name)' of storage '\(entry.id)' cannot be exported as '\(format)' (only \(exportFormats(name).joined(separator: ", ")))")
        }
        try activateVolume(name)
        if format == "tar+size" { return try VolumeStream.exportTree(path: try path(name), size: (try? size(name)) ?? 0, to: sink) }
        try VolumeStream.export(path: try path(name), to: sink)
    }

    public func importVolume(vmid: Int, format: String, name: String?, from source: any VolumeSource) throws(StorageError) -> String {
        if format == "tar+size" {
            guard formats.contains("subvol") else { throw StorageError(400, "storage '\(entry.id)' cannot import the stream format 'tar+size'") }
            let size = try VolumeStream.readSize(source)
            let volume = try allocate(vmid: vmid, format: "subvol", size: size, name: name)
            do { try VolumeStream.importTree(from: source, to: try path(volume)) } catch {
                try? free(volume)
                throw error
            }
            return volume
        }
        let imageFormat: String
        switch format {
        case "raw+size": imageFormat = "raw"
        case "qcow2+size" where formats.contains("qcow2"): imageFormat = "qcow2"
        case "vmdk+size" where formats.contains("vmdk"): imageFormat = "vmdk"
        default: throw StorageError(400, "storage '\(entry.id)' cannot import the stream format '\(format)'")
        }
        let size = try VolumeStream.readSize(source)
        // a file-format image is copied as it is; allocation only names (and sizes) the file
        let volume = try allocate(vmid: vmid, format: imageFormat, size: max(size, 1024), name: name)
        do {
            try activateVolume(volume)
            try VolumeStream.importBody(size: size, from: source, to: try path(volume), truncate: capabilities.contains(.files))
        } catch {
            try? free(volume)
            throw error
        }
        return volume
    }
}

extension StoragePlugin {
    /// The next free `vm-<vmid>-disk-<n>` name among `existing`.
    func nextDiskName(vmid: Int, existing: Set<String>, suffix: String = "") -> String {
        var n = 0
        while existing.contains("vm-\(vmid)-disk-\(n)") || existing.contains("base-\(vmid)-disk-\(n)") { n += 1 }
        return "vm-\(vmid)-disk-\(n)" + suffix
    }
}
