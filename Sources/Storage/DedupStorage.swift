import Archive
import Foundation
import Glibc
import Schema

/// A deduplicating backup store (`dedup`, beyond PVE): backups as manifests over a shared store of
/// content-addressed chunks in a directory (`Archive/ChunkStore`). Volumes are named
/// `backup/<vm|ct>/<vmid>/<time>` as on a Proxmox Backup Server; removing one collects the chunks
/// no other backup uses.
public struct DedupStorage: StoragePlugin {
    public static let driver = StorageDriver(
        type: "dedup", content: ["backup"], defaultContent: ["backup"], formats: [], defaultFormat: "raw",
        capabilities: [.files, .localPaths],
        options: [
            "path": Schema.string(format: "pve-storage-path"), "create-base-path": Schema.boolean().optional(),
        ]
    ) { entry throws(StorageError) in try DedupStorage(entry: entry) }

    public let entry: StorageConfig.Entry
    public var capabilities: StorageCapabilities { Self.driver.capabilities.union(entry["shared"] == "1" ? .shared : []) }
    public var defaultFormat: String { "raw" }
    public var formats: Set<String> { [] }
    public let store: ChunkStore

    public init(entry: StorageConfig.Entry) throws(StorageError) {
        guard let path = entry["path"], path.hasPrefix("/") else { throw StorageError(500, "storage '\(entry.id)' has no absolute 'path'") }
        self.entry = entry
        store = ChunkStore(root: path)
    }

    public func activate() throws(StorageError) {
        if !FileManager.default.fileExists(atPath: store.root) && entry["create-base-path"] == "0" {
            throw StorageError(500, "unable to activate storage '\(entry.id)' - directory '\(store.root)' does not exist")
        }
        do { try store.prepare() } catch { throw StorageError(500, "unable to activate storage '\(entry.id)' - \(error)") }
    }

    /// The backup name of a volume name (`backup/vm/100/…` → `vm/100/…`).
    func backupName(_ name: String) throws(StorageError) -> String {
        guard name.hasPrefix("backup/"), ChunkStore.parse(String(name.dropFirst(7))) != nil else {
            throw StorageError(400, "'\(name)' is not a backup of storage '\(entry.id)' (backup/<vm|ct>/<vmid>/<time>)")
        }
        return String(name.dropFirst(7))
    }

    public func path(_ name: String) throws(StorageError) -> String { store.directory(try backupName(name)) }

    public func allocate(vmid: Int, format: String, size: Int64, name: String?) throws(StorageError) -> String {
        throw StorageError(400, "storage '\(entry.id)' holds backups only")
    }

    public func free(_ name: String) throws(StorageError) {
        let snapshot = try backupName(name)
        do {
            try store.remove(snapshot)
            // a running backup holds the store: its chunks are then collected by the next removal
            _ = try store.collectGarbage()
        } catch { throw StorageError(500, "cannot remove \(entry.id):\(name): \(error)") }
    }

    public func list(content: String?, vmid: Int?) throws(StorageError) -> [VolumeInfo] {
        guard content == nil || content == "backup" else { return [] }
        var out: [VolumeInfo] = []
        for snapshot in store.snapshots() {
            guard let parsed = ChunkStore.parse(snapshot), vmid == nil || parsed.vmid == vmid,
                let manifest = try? store.manifest(snapshot)
            else { continue }
            let dir = store.directory(snapshot)
            var info = VolumeInfo(
                volid: "\(entry.id):backup/\(snapshot)", content: "backup", format: parsed.type == "lxc" ? "dedup-ct" : "dedup-vm",
                size: Int64(manifest.size), used: nil, vmid: parsed.vmid, ctime: parsed.time, parent: nil)
            info.subtype = parsed.type
            info.notes = (try? String(contentsOfFile: dir + "/notes", encoding: .utf8)).flatMap { $0.split(separator: "\n").first.map(String.init) }
            info.protected = FileManager.default.fileExists(atPath: dir + "/protected")
            out.append(info)
        }
        return out
    }

    public func status() throws(StorageError) -> (total: Int64, used: Int64, available: Int64) {
        var st = statvfs()
        guard statvfs(store.root, &st) == 0 else {
            throw StorageError(500, "cannot read the status of \(store.root): \(String(cString: strerror(errno)))")
        }
        let block = Int64(st.f_frsize)
        let total = Int64(st.f_blocks) * block, free = Int64(st.f_bfree) * block, available = Int64(st.f_bavail) * block
        return (total, total - free, available)
    }

    public func size(_ name: String) throws(StorageError) -> Int64 {
        do { return Int64(try store.manifest(try backupName(name)).size) } catch let error as StorageError { throw error } catch {
            throw StorageError(500, "\(error)")
        }
    }

    public func resize(_ name: String, to bytes: Int64) throws(StorageError) { throw StorageError(400, "backups cannot be resized") }
    public func canSnapshot(_ name: String) -> Bool { false }
    public func snapshot(_ name: String, snapshot: String) throws(StorageError) { throw StorageError(400, "backups have no snapshots") }
    public func rollback(_ name: String, snapshot: String) throws(StorageError) { throw StorageError(400, "backups have no snapshots") }
    public func deleteSnapshot(_ name: String, snapshot: String) throws(StorageError) { throw StorageError(400, "backups have no snapshots") }
    public func makeBase(_ name: String) throws(StorageError) -> String { throw StorageError(400, "backups cannot be templates") }
    public func linkedClone(_ base: String, vmid: Int, name: String?) throws(StorageError) -> String {
        throw StorageError(400, "backups cannot be cloned")
    }
    public func canLinkClone(_ name: String) -> Bool { false }

    public func backupSideFile(_ name: String, _ kind: BackupSideFile) -> String? {
        guard let dir = try? path(name) else { return nil }
        switch kind {
        case .notes: return dir + "/notes"
        case .protected: return dir + "/protected"
        case .log: return dir + "/client.log"
        }
    }
}
