import Schema

/// What a storage type can do. Callers ask these, never the concrete type.
public struct StorageCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The same volumes are reachable from every node that has the storage (NFS, Ceph, `shared 1` dirs).
    public static let shared = StorageCapabilities(rawValue: 1 << 0)
    /// Volumes can be snapshotted (some formats only: ask the plugin's `canSnapshot` per volume).
    public static let snapshots = StorageCapabilities(rawValue: 1 << 1)
    /// Copy-on-write clones of a template's base volumes.
    public static let linkedClones = StorageCapabilities(rawValue: 1 << 2)
    /// Volumes are files (a path with an extension naming the format); otherwise block devices.
    public static let files = StorageCapabilities(rawValue: 1 << 3)
    /// Volumes must be activated before use and may be deactivated after (LVM, iSCSI, RBD).
    public static let needsActivation = StorageCapabilities(rawValue: 1 << 4)
    /// Holds files of every content type (ISO images, templates, backups, snippets), not only guest disks.
    public static let fileContent = StorageCapabilities(rawValue: 1 << 5)
    /// Volumes have local paths QEMU and qemu-img can open (files or block devices); otherwise
    /// they are reached through the driver alone (export/import streams).
    public static let localPaths = StorageCapabilities(rawValue: 1 << 6)
    /// Directory volumes (`subvol`) can have a size (btrfs): containers get one for a sized root disk.
    public static let sizedDirectories = StorageCapabilities(rawValue: 1 << 7)
}

/// One row of the storage registry: a section type of `storage.cfg` and everything known about it
/// before a storage of that type exists.
public struct StorageDriver: Sendable {
    public let type: String
    /// The content types a storage of this type may hold, and those a new one gets by default.
    public let content: Set<String>
    public let defaultContent: Set<String>
    public let formats: Set<String>
    public let defaultFormat: String
    public let capabilities: StorageCapabilities
    /// The options of a section of this type (beyond `type` and the id), as PVE's plugin declares them.
    public let options: [String: Schema]
    public let make: @Sendable (StorageConfig.Entry) throws(StorageError) -> any StoragePlugin

    public init(
        type: String, content: Set<String>, defaultContent: Set<String>, formats: Set<String>, defaultFormat: String,
        capabilities: StorageCapabilities, options: [String: Schema],
        make: @escaping @Sendable (StorageConfig.Entry) throws(StorageError) -> any StoragePlugin
    ) {
        self.type = type
        self.content = content
        self.defaultContent = defaultContent
        self.formats = formats
        self.defaultFormat = defaultFormat
        self.capabilities = capabilities
        self.options = options
        self.make = make
    }

    /// Options every storage type has (PVE's common plugin properties).
    public static let commonOptions: [String: Schema] = [
        "content": Schema.string(format: "pve-storage-content-list").optional(),
        "nodes": Schema.string(format: "pve-node-list").optional(),
        "disable": Schema.boolean().optional(),
        "shared": Schema.boolean().optional(),
        "prune-backups": Schema.string().optional(),
        "max-protected-backups": Schema.integer(minimum: -1).optional(),
        "comment": Schema.string().optional(),
    ]
}

/// The storage types this build knows: type → driver. `Storage` looks a section's type up here; an
/// unknown type is refused by name, never guessed.
public struct StorageDrivers: Sendable {
    public let byType: [String: StorageDriver]

    public init(_ drivers: [StorageDriver]) {
        byType = Dictionary(drivers.map { ($0.type, $0) }) { first, _ in first }
    }

    public subscript(type: String) -> StorageDriver? { byType[type] }

    public func adding(_ driver: StorageDriver) -> StorageDrivers { StorageDrivers(Array(byType.values) + [driver]) }

    /// The section schema of `storage.cfg` for these types (checked when a storage is added or changed).
    public var sectionSchema: SectionConfigSchema {
        SectionConfigSchema(
            file: "storage.cfg", id: .string(format: "pve-storage-id"),
            types: byType.mapValues { StorageDriver.commonOptions.merging($0.options) { _, own in own } })
    }

    /// What a node runs: the real backends.
    public static let standard = StorageDrivers(
        [
            DirStorage.driver, LVMThinStorage.driver, LVMStorage.driver, BTRFSStorage.driver, ZFSPoolStorage.driver,
            ISCSIStorage.driver, ISCSIDirectStorage.driver, RBDStorage.driver, DedupStorage.driver,
        ]
            + NetworkDirStorage.Kind.allCases.map(NetworkDirStorage.driver))
}
