import API
import ClusterFS
import Foundation
import Schema

/// Adding, changing and removing storages (`storage.cfg`), checked per type against the driver
/// registry: only options of the storage's type, content it can hold, and a storage that can be
/// activated on this node before it is written (so a bad path changes nothing).
enum StorageConfigEndpoints {
    static let allocate = Permission.privileges(path: "/storage", ["Datastore.Allocate"])
    /// Parameters that are not options of the section.
    static let notOptions: Set<String> = ["storage", "type", "digest", "delete"]
    /// Options PVE lets a storage have only from its creation on.
    static let fixed: Set<String> = ["path", "vgname", "thinpool", "pool", "export", "server", "share", "portal", "target", "mountpoint"]

    static func all(storage: Storage) -> [Endpoint] {
        [
            Endpoint(
                pve: "POST /storage", description: "Adds a storage (the options its type has; activated here before it is written).",
                returns: .object(["storage": .string(), "type": .string()], additionalProperties: true), permission: allocate,
                handler: .blocking { context in
                    let id = try context.require("storage"), type = try context.require("type")
                    guard let driver = storage.drivers[type] else {
                        throw APIError.parameters([
                            "type":
                                "storage type '\(type)' is not available on this node (available: \(storage.drivers.byType.keys.sorted().joined(separator: ", ")))"
                        ])
                    }
                    var section = SectionConfig.Section(type: type, id: id)
                    for (name, value) in options(context) where !value.isEmpty { section.options.append(.init(name, value)) }
                    if section["content"] == nil {
                        section.options.insert(.init("content", driver.defaultContent.sorted().joined(separator: ",")), at: 0)
                    }
                    try check(section, driver: driver, storage: storage)
                    // activated first: a storage that cannot work here is not written
                    let plugin = try driver.make(section)
                    if section["disable"] != "1", section.isAvailable(on: storage.node) { try plugin.activate() }
                    let secret = Storage.secretKey(type).flatMap { key in section[key] }
                    section.options.removeAll { $0.key == Storage.secretKey(type) }
                    try storage.fs.withLock("storage-cfg", timeout: 10) {
                        var config = try storage.config()
                        guard config[id] == nil else { throw APIError(500, "storage ID '\(id)' already defined") }
                        if let secret { try writeSecret(storage, id: id, secret) }
                        config.file.sections.append(section)
                        try storage.fs.write("storage.cfg", Array(config.serialized().utf8))
                    }
                    return ["storage": .string(id), "type": .string(type)]
                }),
            Endpoint(
                pve: "PUT /storage/{storage}",
                description: "Changes a storage's options (`delete` removes some; the type and its fixed options stay).",
                returns: .object(["storage": .string(), "type": .string()], additionalProperties: true), permission: allocate,
                handler: .blocking { context in
                    let id = try context.require("storage")
                    // an option given empty is removed (rather than written as a bare flag)
                    let given = options(context)
                    let changes = given.filter { !$0.1.isEmpty }
                    let deletions =
                        (context.string("delete") ?? "").split(whereSeparator: { $0 == "," || $0 == ";" || $0 == " " }).map(String.init)
                        + given.filter { $0.1.isEmpty }.map(\.0)
                    let type = try storage.fs.withLock("storage-cfg", timeout: 10) { () throws -> String in
                        var config = try storage.config()
                        guard let index = config.file.sections.firstIndex(where: { $0.id == id }) else {
                            throw APIError(500, "storage '\(id)' does not exist")
                        }
                        if let digest = context.string("digest"), digest != StorageEndpoints.digest(storage) {
                            throw APIError(500, "detected modified configuration - file changed by other user? Try again.")
                        }
                        var section = config.file.sections[index]
                        guard let driver = storage.drivers[section.type] else {
                            throw APIError(500, "storage type '\(section.type)' is not available")
                        }
                        var errors: [String: String] = [:]
                        for name in changes.map(\.0) + deletions where fixed.contains(name) {
                            errors[name] = "can't change fixed option '\(name)' of a storage"
                        }
                        for name in deletions where changes.contains(where: { $0.0 == name }) {
                            errors[name] = "cannot set and delete '\(name)' at once"
                        }
                        guard errors.isEmpty else { throw APIError.parameters(errors) }
                        section.options.removeAll { deletions.contains($0.key) }
                        for (name, value) in changes {
                            if let at = section.options.firstIndex(where: { $0.key == name }) {
                                section.options[at].value = value
                            } else {
                                section.options.append(.init(name, value))
                            }
                        }
                        try check(section, driver: driver, storage: storage)
                        if let key = Storage.secretKey(section.type) {
                            if let secret = section[key] { try writeSecret(storage, id: id, secret) }
                            if deletions.contains(key) { try? storage.fs.delete(Storage.secretPath(id)) }
                            section.options.removeAll { $0.key == key }
                        }
                        config.file.sections[index] = section
                        try storage.fs.write("storage.cfg", Array(config.serialized().utf8))
                        return section.type
                    }
                    return ["storage": .string(id), "type": .string(type)]
                }),
            Endpoint(
                pve: "DELETE /storage/{storage}", description: "Removes a storage from the configuration (its volumes stay where they are).",
                permission: allocate,
                handler: .blocking { context in
                    let id = try context.require("storage")
                    try storage.fs.withLock("storage-cfg", timeout: 10) {
                        var config = try storage.config()
                        guard config[id] != nil else { throw APIError(500, "storage '\(id)' does not exist") }
                        let users = guestsUsing(storage, id: id)
                        guard users.isEmpty else {
                            throw APIError.parameters([
                                "storage":
                                    "storage '\(id)' holds disks of \(users.map { "\($0.type == "lxc" ? "CT" : "VM") \($0.vmid)" }.joined(separator: ", ")): move or remove them first"
                            ])
                        }
                        config.file.sections.removeAll { $0.id == id }
                        try storage.fs.write("storage.cfg", Array(config.serialized().utf8))
                        try? storage.fs.delete(Storage.secretPath(id))
                    }
                    return .null
                }),
        ]
    }

    /// The guests (of the whole cluster) whose configuration names a volume of storage `id`.
    static func guestsUsing(_ storage: Storage, id: String) -> [(vmid: Int, type: String)] {
        guard let data = try? storage.fs.read(".vmlist"), let ids = (try? JSONParser.parse(data))?["ids"]?.objectValue else { return [] }
        var out: [(Int, String)] = []
        for (key, entry) in ids {
            guard let vmid = Int(key), let type = entry["type"]?.stringValue, let node = entry["node"]?.stringValue else { continue }
            let path = "nodes/\(node)/\(type == "lxc" ? "lxc" : "qemu-server")/\(vmid).conf"
            guard let text = try? storage.fs.readString(path) else { continue }
            // a value naming the storage: `scsi0: local:100/…`, `rootfs: local:…`, `ide2: local:iso/…`
            let uses = text.split(separator: "\n").contains { line in
                guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("#") else { return false }
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                let volume = value.hasPrefix("file=") ? String(value.dropFirst(5)) : value
                return volume.hasPrefix(id + ":")
            }
            if uses { out.append((vmid, type)) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    static func writeSecret(_ storage: Storage, id: String, _ secret: String) throws {
        if !storage.fs.exists("priv/storage") { try? storage.fs.mkdir("priv/storage") }
        try storage.fs.write(Storage.secretPath(id), Array(secret.utf8))
    }

    /// The section options a call gives, as `storage.cfg` writes them (booleans as 0/1).
    static func options(_ context: RequestContext) -> [(String, String)] {
        context.parameters.keys.sorted().filter { !notOptions.contains($0) }.compactMap { name in
            guard let value = context.parameters[name] else { return nil }
            if case .bool(let flag) = value { return (name, flag ? "1" : "0") }
            // a set: written sorted, once each (as PVE writes it)
            if name == "content" { return (name, Set(Formats.splitList(value.plainText)).sorted().joined(separator: ",")) }
            return (name, value.plainText)
        }
    }

    /// The section fits its type: known options, valid values, content the type can hold.
    static func check(_ section: SectionConfig.Section, driver: StorageDriver, storage: Storage) throws {
        var errors = storage.drivers.sectionSchema.check(section, idKey: "storage")
        let unsupported = section.content.subtracting(driver.content)
        if !unsupported.isEmpty {
            errors["content"] = "storage type '\(section.type)' cannot hold \(unsupported.sorted().joined(separator: ", "))"
        }
        if let format = section["format"], !driver.formats.contains(format) {
            errors["format"] = "storage type '\(section.type)' does not store '\(format)' images"
        }
        guard errors.isEmpty else { throw APIError.parameters(errors) }
    }
}
