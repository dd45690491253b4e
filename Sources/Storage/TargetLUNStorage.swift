import Schema

/// A storage whose volumes are LUNs its target's admin makes (iSCSI): Corral neither allocates,
/// frees nor resizes them, and they have no snapshots or clones.
public protocol TargetLUNStorage: StoragePlugin {}

extension TargetLUNStorage {
    /// The options both iSCSI types have: where the target answers and its name.
    static var targetOptions: [String: Schema] { ["portal": Schema.string(format: "pve-storage-portal-dns"), "target": Schema.string()] }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        throw StorageError(400, "can't allocate space in iSCSI storage '\(entry.id)': its LUNs are made on the target")
    }

    public func free(_ name: String) throws(StorageError) {
        throw StorageError(400, "can't free space in iSCSI storage '\(entry.id)': its LUNs are removed on the target")
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) {
        throw StorageError(400, "the LUNs of iSCSI storage '\(entry.id)' are resized on the target")
    }

    public func canSnapshot(_ name: String) -> Bool { false }
    public func snapshot(_ name: String, snapshot: String) throws(StorageError) { throw noSnapshots }
    public func rollback(_ name: String, snapshot: String) throws(StorageError) { throw noSnapshots }
    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) { throw noSnapshots }
    var noSnapshots: StorageError { StorageError(400, "iSCSI storage '\(entry.id)' cannot take snapshots") }
    public func makeBase(_ name: String) throws(StorageError) -> String { throw StorageError(400, "iSCSI LUNs cannot become templates") }
    public func canLinkClone(_ name: String) -> Bool { false }
    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        throw StorageError(400, "iSCSI storage '\(entry.id)' has no linked clones")
    }
}
