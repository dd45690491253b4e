import API
import Archive
import Foundation
import Glibc
import Schema
import Tasks

/// What a deduplicating backup store (`dedup`) needs beyond PVE's storage calls: collecting chunks
/// no backup uses, verifying every chunk, and exporting a backup as PVE's VMA or tar archive.
enum DedupEndpoints {
    static let permission = Permission.privileges(path: "/storage/{storage}", ["Datastore.Allocate"])

    static func all(storage: Storage) -> [Endpoint] {
        [
            Endpoint(
                .POST, "/nodes/{node}/storage/{storage}/gc", name: "gc",
                description: "Removes the chunks of a deduplicating backup store that no backup uses.",
                parameters: ["node": .node, "storage": .storageID], returns: .string(), permission: permission, protected: true, proxyTo: "node",
                handler: .blocking { context in
                    let (id, store) = try dedup(storage, context)
                    return .string(
                        try context.services.tasks.start(type: "dedupgc", id: id, user: context.user) { log in
                            log.log("collecting the chunks no backup of '\(id)' uses")
                            guard let result = try store.collectGarbage() else {
                                throw APIError(500, "a backup or restore is using the store; try again when it has finished")
                            }
                            log.log("removed \(result.removedChunks) chunks (\(ByteFormat.bytes(result.removedBytes)))")
                            log.log("kept \(result.keptChunks) chunks (\(ByteFormat.bytes(result.keptBytes)))")
                        }.description)
                }),
            Endpoint(
                .POST, "/nodes/{node}/storage/{storage}/verify", name: "verify",
                description: "Reads every chunk of one backup (or of all) and checks it against its digest.",
                parameters: [
                    "node": .node, "storage": .storageID,
                    "volume": Schema.string(description: "One backup's volume ID; all backups when left out.").optional(),
                ], returns: .string(), permission: permission, protected: true, proxyTo: "node",
                handler: .blocking { context in
                    let (id, store) = try dedup(storage, context)
                    let only = try context.string("volume").map { volume in
                        let name = volume.hasPrefix("\(id):") ? String(volume.dropFirst(id.count + 1)) : volume
                        guard name.hasPrefix("backup/"), ChunkStore.parse(String(name.dropFirst(7))) != nil else {
                            throw APIError.parameters(["volume": "'\(volume)' is not a backup of storage '\(id)'"])
                        }
                        return [String(name.dropFirst(7))]
                    }
                    return .string(
                        try context.services.tasks.start(type: "dedupverify", id: id, user: context.user) { log in
                            let problems = try store.verify(only) { log.log($0) }
                            for problem in problems { log.log("ERROR: \(problem)") }
                            guard problems.isEmpty else { throw APIError(500, "verification found \(problems.count) problem(s)") }
                            log.log("all chunks are intact")
                        }.description)
                }),
            Endpoint(
                .POST, "/nodes/{node}/storage/{storage}/export-backup", name: "export_backup",
                description: "Writes a backup of a deduplicating store as PVE's archive (VMA for VMs, tar for containers) onto a backup storage.",
                parameters: [
                    "node": .node, "storage": .storageID,
                    "volume": Schema.string(description: "The backup's volume ID."),
                    "target-storage": Schema.string(format: "pve-storage-id", description: "A storage with backup content to write the archive to."),
                    "compress": Schema.string(enum: ["0", "gzip", "lzo", "zstd"]).defaulting(to: "zstd"),
                ], returns: .string(), permission: permission, protected: true, proxyTo: "node",
                handler: .blocking { context in
                    let (id, store) = try dedup(storage, context)
                    let volume = try context.require("volume")
                    let name = volume.hasPrefix("\(id):") ? String(volume.dropFirst(id.count + 1)) : volume
                    guard name.hasPrefix("backup/"), let parsed = ChunkStore.parse(String(name.dropFirst(7))) else {
                        throw APIError.parameters(["volume": "'\(volume)' is not a backup of storage '\(id)'"])
                    }
                    let targetID = try context.require("target-storage")
                    guard context.has(["Datastore.AllocateSpace"], on: "/storage/\(targetID)") else {
                        throw APIError(403, "Permission check failed (/storage/\(targetID), Datastore.AllocateSpace)")
                    }
                    let target = try storage.plugin(targetID)
                    guard target.entry.content.contains("backup"), target.capabilities.contains(.fileContent) else {
                        throw APIError.parameters(["target-storage": "storage '\(targetID)' does not hold backup archives"])
                    }
                    let reader: ChunkedBackupReader
                    do { reader = try ChunkedBackupReader(store: store, snapshot: String(name.dropFirst(7))) } catch {
                        throw APIError.parameters(["volume": "\(error)"])
                    }
                    let compress = context.string("compress").flatMap { $0 == "0" ? nil : $0 }
                    let file = BackupArchiveName.make(
                        type: parsed.type, vmid: parsed.vmid, date: Date(timeIntervalSince1970: TimeInterval(parsed.time)), compress: compress)
                    return .string(
                        try context.services.tasks.start(type: "dedupexport", id: id, user: context.user) { log in
                            try target.activate()
                            let path = try target.path("backup/\(file)")
                            try FileManager.default.createDirectory(
                                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                            guard !FileManager.default.fileExists(atPath: path) else {
                                throw APIError(500, "'\(targetID):backup/\(file)' exists already")
                            }
                            log.log("exporting \(id):\(name) to \(targetID):backup/\(file)")
                            let temporary = BackupArchiveName.temporary(path)
                            do {
                                if let compressor = BackupArchiveName.compressor(compress, zstdThreads: nil) {
                                    let pipe = try ProcessPipe.writing(compressor, output: temporary)
                                    do {
                                        try reader.export { try pipe.write($0) }
                                        try pipe.finish()
                                    } catch {
                                        try? pipe.finish(ignoreStatus: true)
                                        throw error
                                    }
                                } else {
                                    FileManager.default.createFile(atPath: temporary, contents: nil)
                                    guard let handle = FileHandle(forWritingAtPath: temporary) else {
                                        throw APIError(500, "cannot create \(temporary)")
                                    }
                                    defer { try? handle.close() }
                                    try reader.export { try handle.write(contentsOf: $0) }
                                }
                                guard rename(temporary, path) == 0 else { throw APIError(500, "cannot rename \(temporary)") }
                            } catch {
                                unlink(temporary)
                                throw error
                            }
                            if let notes = try? String(contentsOfFile: store.directory(String(name.dropFirst(7))) + "/notes", encoding: .utf8) {
                                try? notes.write(toFile: path + ".notes", atomically: true, encoding: .utf8)
                            }
                            log.log("wrote \(ByteFormat.bytes((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0))")
                        }.description)
                }),
        ]
    }

    /// The storage of the call, which must be a deduplicating store active here.
    static func dedup(_ storage: Storage, _ context: RequestContext) throws -> (String, ChunkStore) {
        let id = try context.require("storage")
        guard let plugin = try storage.plugin(id) as? DedupStorage else {
            throw APIError.parameters(["storage": "storage '\(id)' is not a deduplicating backup store (type dedup)"])
        }
        try plugin.activate()
        return (id, plugin.store)
    }
}
