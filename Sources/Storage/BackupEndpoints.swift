import API
import Foundation
import Glibc
import Schema
import Tasks

/// Backups on a storage: their notes and protection, and pruning by a retention setting (the
/// storage's `prune-backups`, or one given with the call).
enum BackupEndpoints {
    static func all(storage: Storage) -> [Endpoint] {
        [
            Endpoint(
                pve: "PUT /nodes/{node}/storage/{storage}/content/{volume}", description: "Sets a backup's notes or protection.",
                permission: .anyUser,
                handler: .blocking { context in
                    let (plugin, name) = try StorageEndpoints.volume(storage, context)
                    guard let owner = plugin.backupOwner(name), let notesFile = plugin.backupSideFile(name, .notes),
                        let marker = plugin.backupSideFile(name, .protected)
                    else {
                        throw APIError(400, "only backups have notes and protection; '\(plugin.entry.id):\(name)' is not one")
                    }
                    try checkBackupAccess(context, storage: plugin.entry.id, vmid: owner.vmid)
                    let path = try plugin.path(name)
                    guard FileManager.default.fileExists(atPath: path) else {
                        throw APIError(500, "volume '\(plugin.entry.id):\(name)' does not exist")
                    }
                    if let notes = context.string("notes") {
                        do { try notes.write(toFile: notesFile, atomically: true, encoding: .utf8) } catch {
                            throw APIError(500, "cannot write the notes: \(error.localizedDescription)")
                        }
                    }
                    if let protected = context.bool("protected") {
                        if protected {
                            guard FileManager.default.createFile(atPath: marker, contents: nil) else { throw APIError(500, "cannot write \(marker)") }
                        } else {
                            unlink(marker)
                        }
                    }
                    return .null
                }),
            Endpoint(
                pve: "GET /nodes/{node}/storage/{storage}/prunebackups",
                description: "Which backups a retention setting keeps and which it removes (nothing is removed).",
                returns: .array(
                    of: .object(["volid": .string(), "ctime": .integer(), "mark": .string(), "type": .string()], additionalProperties: true)),
                permission: .privileges(path: "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true),
                handler: .blocking { context in .array(try marks(storage, context).map { $0.json }) }),
            Endpoint(
                pve: "DELETE /nodes/{node}/storage/{storage}/prunebackups",
                description: "Removes the backups a retention setting does not keep (protected ones stay).", returns: .string(), permission: .anyUser,
                handler: .blocking { context in
                    let id = try context.require("storage")
                    let chosen = try marks(storage, context)
                    for vmid in Set(chosen.compactMap(\.vmid)) { try checkBackupAccess(context, storage: id, vmid: vmid) }
                    if chosen.isEmpty { try checkBackupAccess(context, storage: id, vmid: nil) }
                    let upid = try context.services.tasks.start(type: "prunebackups", id: id, user: context.user) { log in
                        var removed = 0
                        for item in chosen where item.mark == .remove {
                            log.log("removing \(item.volid)")
                            try storage.free(item.volid)
                            removed += 1
                        }
                        log.log("\(removed) backup(s) removed, \(chosen.count - removed) kept")
                    }
                    return .string(upid.description)
                }),
        ]
    }

    struct Marked {
        var volid: String
        var ctime: Int64
        var type: String
        var vmid: Int?
        var mark: PruneSelection.Mark
        var json: JSON {
            var out: [String: JSON] = ["volid": .string(volid), "ctime": .int(ctime), "type": .string(type), "mark": .string(mark.rawValue)]
            if let vmid { out["vmid"] = .int(Int64(vmid)) }
            return .object(out)
        }
    }

    /// The marks of every backup group (one per guest) on the storage, with the given or configured setting.
    static func marks(_ storage: Storage, _ context: RequestContext) throws -> [Marked] {
        let id = try context.require("storage")
        let plugin = try storage.plugin(id)
        let setting = context.string("prune-backups") ?? plugin.entry["prune-backups"] ?? "keep-all=1"
        let keep = PruneSelection.parse(setting)
        let type = context.string("type"), vmid = context.int("vmid").map(Int.init)
        let backups = try plugin.list(content: "backup", vmid: vmid).filter { type == nil || $0.subtype == type }
        var out: [Marked] = []
        let groups = Dictionary(grouping: backups) { "\($0.subtype ?? "")/\($0.vmid ?? 0)" }
        for key in groups.keys.sorted() {
            let group = groups[key]!
            let marks = PruneSelection.mark(
                group.map { PruneSelection.Entry(id: $0.volid, ctime: $0.ctime ?? 0, protected: $0.protected == true) }, keep: keep)
            for v in group.sorted(by: { ($0.ctime ?? 0) > ($1.ctime ?? 0) }) {
                out.append(Marked(volid: v.volid, ctime: v.ctime ?? 0, type: v.subtype ?? "", vmid: v.vmid, mark: marks[v.volid] ?? .keep))
            }
        }
        return out
    }

    /// Backups of a guest are the guest's backup operators' to change (as PVE: VM.Backup on the guest
    /// and space on the storage), otherwise the storage's allocators'.
    static func checkBackupAccess(_ context: RequestContext, storage id: String, vmid: Int?) throws {
        if context.has(["Datastore.Allocate"], on: "/storage/\(id)") { return }
        guard let vmid, context.has(["VM.Backup"], on: "/vms/\(vmid)"), context.has(["Datastore.AllocateSpace"], on: "/storage/\(id)") else {
            throw APIError(403, "Permission check failed (/storage/\(id), Datastore.Allocate)")
        }
    }
}
