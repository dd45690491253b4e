import API
import ClusterFS
import Foundation
import Glibc
import Schema
import TLS
import Tasks

/// `/storage` (the configuration) and `/nodes/{node}/storage…` (status and content on this node).
public enum StorageEndpoints {
    static func audit(_ context: RequestContext, _ id: String) -> Bool {
        context.has(["Datastore.Audit", "Datastore.AllocateSpace"], on: "/storage/\(id)", any: true)
    }

    static func statusJSON(_ entry: StorageConfig.Entry, _ storage: Storage) -> [String: JSON] {
        let node = storage.node
        var out: [String: JSON] = [
            "storage": .string(entry.id), "type": .string(entry.type), "content": .string(entry.content.sorted().joined(separator: ",")),
            "enabled": entry.disabled ? 0 : 1, "shared": entry["shared"] == "1" ? 1 : 0, "active": 0,
        ]
        if let plugin = try? storage.plugin(for: entry), entry.isAvailable(on: node), let status = try? plugin.status() {
            out["active"] = 1
            out["total"] = .int(status.total)
            out["used"] = .int(status.used)
            out["avail"] = .int(status.available)
            out["used_fraction"] = .number(status.total > 0 ? Double(status.used) / Double(status.total) : 0)
        }
        return out
    }

    static func volumeJSON(_ v: VolumeInfo) -> JSON {
        var item: [String: JSON] = ["volid": .string(v.volid), "content": .string(v.content), "format": .string(v.format), "size": .int(v.size)]
        if let used = v.used { item["used"] = .int(used) }
        if let vmid = v.vmid { item["vmid"] = .int(Int64(vmid)) }
        if let ctime = v.ctime { item["ctime"] = .int(ctime) }
        if let parent = v.parent { item["parent"] = .string(parent) }
        if let notes = v.notes { item["notes"] = .string(notes) }
        if let protected = v.protected { item["protected"] = .int(protected ? 1 : 0) }
        if let subtype = v.subtype { item["subtype"] = .string(subtype) }
        return .object(item)
    }

    public static func all(storage: Storage) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /storage", description: "The configured storages.",
                returns: .array(of: .object(["storage": .string()], additionalProperties: true)), permission: .anyUser, childKey: "storage",
                handler: .blocking { context in
                    let type = context.string("type")
                    return .array(
                        try storage.config().entries.filter { (type == nil || $0.type == type) && audit(context, $0.id) }.map { entry in
                            var item: [String: JSON] = [
                                "storage": .string(entry.id), "type": .string(entry.type), "digest": .string(digest(storage)),
                            ]
                            for (key, value) in entry.values { item[key] = .string(value) }
                            return .object(item)
                        })
                }),
            Endpoint(
                pve: "GET /storage/{storage}", description: "One storage's configuration.",
                returns: .object([:], additionalProperties: true), permission: .privileges(path: "/storage/{storage}", ["Datastore.Allocate"]),
                handler: .blocking { context in
                    let id = try context.require("storage")
                    guard let entry = try storage.config()[id] else { throw APIError(500, "storage '\(id)' does not exist") }
                    var item: [String: JSON] = ["storage": .string(entry.id), "type": .string(entry.type), "digest": .string(digest(storage))]
                    for (key, value) in entry.values { item[key] = .string(value) }
                    return .object(item)
                }),
            Endpoint(
                pve: "GET /nodes/{node}/storage", description: "Storages of this node with their status.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser, childKey: "storage",
                handler: .blocking { context in
                    let content = context.string("content").map { Set(Formats.splitList($0)) }
                    let only = context.string("storage")
                    let enabled = context.bool("enabled") ?? false
                    return .array(
                        try storage.config().entries.filter { entry in
                            audit(context, entry.id) && entry.isAvailable(on: storage.node)
                                || (!enabled && entry.nodes.isEmpty && audit(context, entry.id))
                        }.filter { entry in
                            (only == nil || entry.id == only) && (content == nil || !entry.content.isDisjoint(with: content!))
                                && (!enabled || !entry.disabled)
                        }.map { .object(statusJSON($0, storage)) })
                }),
            .directory(
                "/nodes/{node}/storage/{storage}", name: "diridx", key: "subdir", description: "Storage index.",
                parameters: ["node": .node, "storage": .storageID],
                permission: .privileges(path: "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true)),
            Endpoint(
                pve: "GET /nodes/{node}/storage/{storage}/status", description: "A storage's status on this node.",
                returns: .object([:], additionalProperties: true),
                permission: .privileges(path: "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true),
                handler: .blocking { context in
                    let id = try context.require("storage")
                    guard let entry = try storage.config()[id] else { throw APIError(500, "storage '\(id)' does not exist") }
                    return .object(statusJSON(entry, storage))
                }),
            Endpoint(
                pve: "GET /nodes/{node}/storage/{storage}/content", description: "Volumes on a storage.",
                returns: .array(of: .object([:], additionalProperties: true)),
                permission: .privileges(path: "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true),
                childKey: "volid",
                handler: .blocking { context in
                    let plugin = try storage.plugin(try context.require("storage"))
                    let vmid = context.int("vmid").map(Int.init)
                    // disk images are listed only for guests the caller may see
                    return .array(
                        try plugin.list(content: context.string("content"), vmid: vmid).filter { v in
                            v.vmid.map {
                                context.has(["VM.Audit"], on: "/vms/\($0)") || context.has(["Datastore.Allocate"], on: "/storage/\(plugin.entry.id)")
                            } ?? true
                        }.map(volumeJSON))
                }),
            Endpoint(
                pve: "POST /nodes/{node}/storage/{storage}/content", description: "Allocate a disk image for a guest.",
                returns: .string(), permission: .privileges(path: "/storage/{storage}", ["Datastore.AllocateSpace"]),
                handler: .blocking { context in
                    let id = try context.require("storage")
                    let plugin = try storage.plugin(id)
                    let vmid = Int(context.int("vmid") ?? 0)
                    guard context.has(["VM.Config.Disk"], on: "/vms/\(vmid)") else {
                        throw APIError(403, "Permission check failed (/vms/\(vmid), VM.Config.Disk)")
                    }
                    let filename = try context.require("filename")
                    guard let bytes = sizeBytes(try context.require("size")) else { throw APIError.parameters(["size": "unable to parse size"]) }
                    let format =
                        context.string("format")
                        ?? (filename.hasSuffix(".qcow2") ? "qcow2" : filename.hasSuffix(".raw") ? "raw" : plugin.defaultFormat)
                    guard filename.hasPrefix("vm-\(vmid)-") || filename.hasPrefix("base-\(vmid)-") else {
                        throw APIError.parameters(["filename": "name must start with 'vm-\(vmid)-' or 'base-\(vmid)-'"])
                    }
                    let name = plugin.capabilities.contains(.files) && !filename.contains(".") ? filename + ".\(format)" : filename
                    return .string("\(id):\(try plugin.allocate(vmid: vmid, format: format, size: bytes, name: name))")
                }),
            Endpoint(
                pve: "POST /nodes/{node}/storage/{storage}/upload", description: "Upload an ISO image or container template (streamed to disk).",
                returns: .string(), permission: .privileges(path: "/storage/{storage}", ["Datastore.AllocateTemplate"]),
                handler: .blocking { context in try upload(storage, context) }),
            Endpoint(
                pve: "GET /nodes/{node}/storage/{storage}/content/{volume}", description: "One volume's attributes.",
                returns: .object([:], additionalProperties: true), permission: .anyUser,
                handler: .blocking { context in
                    let (plugin, name) = try volume(storage, context)
                    guard audit(context, plugin.entry.id) else {
                        throw APIError(403, "Permission check failed (/storage/\(plugin.entry.id), Datastore.Audit)")
                    }
                    let path = try plugin.path(name)
                    guard FileManager.default.fileExists(atPath: path) else {
                        throw APIError(500, "volume '\(plugin.entry.id):\(name)' does not exist")
                    }
                    var out: [String: JSON] = [
                        "path": .string(path), "size": .int((try? plugin.size(name)) ?? 0),
                        "format": .string((name as NSString).pathExtension.isEmpty ? "raw" : (name as NSString).pathExtension),
                    ]
                    if let owner = plugin.backupOwner(name), let notes = plugin.backupSideFile(name, .notes),
                        let marker = plugin.backupSideFile(name, .protected)
                    {
                        out["format"] = .string(
                            BackupArchive(name: name) != nil ? DirStorage.backupFormat(name) : owner.type == "lxc" ? "dedup-ct" : "dedup-vm")
                        out["notes"] = .string((try? String(contentsOfFile: notes, encoding: .utf8)) ?? "")
                        out["protected"] = .bool(FileManager.default.fileExists(atPath: marker))
                    }
                    return .object(out)
                }),
            Endpoint(
                pve: "DELETE /nodes/{node}/storage/{storage}/content/{volume}", description: "Delete a volume no guest uses.",
                returns: .null, permission: .anyUser,
                handler: .blocking { context in
                    let (plugin, name) = try volume(storage, context)
                    let owner = VolumeID(storage: plugin.entry.id, name: name).ownerVMID
                    let allowed =
                        owner.map {
                            context.has(["VM.Config.Disk"], on: "/vms/\($0)")
                                && context.has(["Datastore.AllocateSpace"], on: "/storage/\(plugin.entry.id)")
                        }
                        ?? context.has(["Datastore.Allocate"], on: "/storage/\(plugin.entry.id)")
                    guard allowed else { throw APIError(403, "Permission check failed (/storage/\(plugin.entry.id))") }
                    if let marker = plugin.backupSideFile(name, .protected), FileManager.default.fileExists(atPath: marker) {
                        throw APIError(400, "backup '\(plugin.entry.id):\(name)' is protected: remove the protection first")
                    }
                    if let owner, let used = usedBy(storage, volid: "\(plugin.entry.id):\(name)", vmid: owner) {
                        throw APIError(400, "volume '\(plugin.entry.id):\(name)' is still used by VM \(owner) (\(used))")
                    }
                    try plugin.free(name)
                    return .null
                }),
        ]
    }

    static let uploadSuffixes = [
        "iso": [".iso", ".img"], "vztmpl": [".tar.gz", ".tar.xz", ".tar.zst", ".tgz"], "import": [".ova", ".ovf", ".qcow2", ".raw", ".vmdk"],
    ]

    /// Moves an uploaded file (already on disk, `tmpfilename`) into the storage, after the checks.
    static func upload(_ storage: Storage, _ context: RequestContext) throws -> JSON {
        let id = try context.require("storage")
        let content = try context.require("content")
        let name = try context.require("filename")
        guard let temp = context.string("tmpfilename"), FileManager.default.fileExists(atPath: temp) else {
            throw APIError.parameters(["filename": "no file was uploaded (send it as multipart/form-data)"])
        }
        let target = try fileTarget(storage, id: id, content: content, name: name)
        var checksum: (String, String)?
        if let sum = context.string("checksum") {
            guard let algorithm = context.string("checksum-algorithm") else {
                throw APIError.parameters(["checksum-algorithm": "needed with 'checksum'"])
            }
            checksum = (algorithm, sum.lowercased())
        }
        // the request's temporary file goes once the call returns: take it now
        let staged = temp + ".staged"
        guard rename(temp, staged) == 0 else { throw APIError(500, "cannot take the upload: \(String(cString: strerror(errno)))") }
        let verify = checksum
        let upid = try context.services.tasks.start(type: "imgcopy", id: "", user: context.user) { log in
            defer { unlink(staged) }
            if let (algorithm, expected) = verify {
                let out = try Command.run(["\(algorithm)sum", staged])
                let actual = out.split(separator: " ").first.map(String.init) ?? ""
                guard actual == expected else { throw StorageError(400, "checksum mismatch: got \(actual), expected \(expected)") }
                log.log("\(algorithm) checksum verified")
            }
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let partial = target + ".part"
            if rename(staged, partial) != 0 {
                // another filesystem: copy, then the original goes with `staged`
                try FileManager.default.copyItem(atPath: staged, toPath: partial)
            }
            guard rename(partial, target) == 0 else {
                unlink(partial)
                throw StorageError(500, "cannot store \(target): \(String(cString: strerror(errno)))")
            }
            log.log("stored \(id):\(content)/\(name)")
        }
        return .string(upid.description)
    }

    /// Where a new file of `content` named `name` goes on storage `id` (uploads, downloads), after
    /// the checks: a name of the content's kind, a storage of files holding that content, no file there yet.
    static func fileTarget(_ storage: Storage, id: String, content: String, name: String) throws -> String {
        guard !name.contains("/"), !name.hasPrefix("."), uploadSuffixes[content]?.contains(where: { name.hasSuffix($0) }) == true else {
            throw APIError.parameters([
                "filename": "'\(name)' is not a valid name for \(content) (\(uploadSuffixes[content]?.joined(separator: ", ") ?? ""))"
            ])
        }
        let plugin = try storage.plugin(id)
        guard plugin.entry.content.contains(content) else { throw APIError.parameters(["content": "storage '\(id)' does not hold \(content)"]) }
        guard plugin.capabilities.contains(.fileContent) else {
            throw APIError(400, "files of \(content) go to storages of files; '\(id)' is \(plugin.entry.type)")
        }
        let target = try plugin.path("\(content)/\(name)")
        guard !FileManager.default.fileExists(atPath: target) else { throw APIError(400, "'\(id):\(content)/\(name)' already exists") }
        return target
    }

    /// The config key of a VM that still references the volume, if any.
    static func usedBy(_ storage: Storage, volid: String, vmid: Int) -> String? {
        guard let data = try? storage.fs.read("nodes/\(storage.node)/qemu-server/\(vmid).conf") else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value == volid || value.hasPrefix(volid + ",") || value.hasPrefix("file=\(volid)") { return String(line[..<colon]) }
        }
        return nil
    }

    static func volume(_ storage: Storage, _ context: RequestContext) throws -> (any StoragePlugin, String) {
        let id = try context.require("storage")
        var volume = try context.require("volume")
        if volume.hasPrefix(id + ":") { volume = String(volume.dropFirst(id.count + 1)) }
        return (try storage.plugin(id), volume)
    }

    /// The `size` of an allocation: a bare number is KiB there (PVE), otherwise a disk size.
    static func sizeBytes(_ text: String) -> Int64? {
        DiskSize.bytes(text.last?.isNumber == true ? text + "K" : text)
    }

    static func digest(_ storage: Storage) -> String {
        guard let data = try? storage.fs.read("storage.cfg") else { return "" }
        return Digest.sha1Hex(data)
    }
}
