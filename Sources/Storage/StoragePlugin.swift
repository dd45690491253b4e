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
}

/// What a storage backend does for guests. One implementation per storage type, chosen by the
/// section type of `storage.cfg` (`dir`, `lvmthin`); see `Storage.plugin(for:)`.
public protocol StoragePlugin: Sendable {
    var entry: StorageConfig.Entry { get }
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

    /// Turns a guest disk into a template's base volume; returns the new name.
    func makeBase(_ name: String) throws(StorageError) -> String
    /// A copy-on-write clone of a base volume for `vmid`.
    func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String
    func canLinkClone(_ name: String) -> Bool
}

extension StoragePlugin {
    /// The next free `vm-<vmid>-disk-<n>` name among `existing`.
    func nextDiskName(vmid: Int, existing: Set<String>, suffix: String = "") -> String {
        var n = 0
        while existing.contains("vm-\(vmid)-disk-\(n)") || existing.contains("base-\(vmid)-disk-\(n)") { n += 1 }
        return "vm-\(vmid)-disk-\(n)" + suffix
    }
}
