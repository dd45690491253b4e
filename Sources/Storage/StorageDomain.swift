import API

/// Storages and their content.
public struct StorageDomain: Domain {
    public let storage: Storage

    public init(storage: Storage) { self.storage = storage }

    public var name: String { "storage" }
    public var endpoints: [Endpoint] {
        StorageEndpoints.all(storage: storage) + StorageConfigEndpoints.all(storage: storage) + ScanEndpoints.all()
            + DownloadEndpoints.all(storage: storage) + BackupEndpoints.all(storage: storage)
            + DedupEndpoints.all(storage: storage) + VolumeImportEndpoint.all(storage: storage)
    }
}
