import API
import Access
import ClusterFS
import Foundation
import Guests
import Schema

/// `/pools`: named sets of guests and storages that ACLs on `/pool/<id>` grant access to.
public enum PoolEndpoints {
    static let poolid = Schema.string(format: "pve-poolid")
    static let typeFilter = Schema.string(enum: ["qemu", "lxc", "storage"]).optional()
    static let changes: [String: Schema] = [
        "poolid": poolid, "comment": Schema.string(maxLength: 2048).optional(),
        "vms": Schema.string(format: "pve-vmid-list").optional(), "storage": Schema.string(format: "pve-storage-id-list").optional(),
        "delete": Schema.boolean().defaulting(to: false), "allow-move": Schema.boolean().defaulting(to: false),
    ]

    /// Guests by VMID from the cluster filesystem's `.vmlist` (type and node).
    static func guests(_ access: AccessControl) -> [Int: (type: String, node: String)] {
        guard let data = try? access.fs.read(".vmlist"),
            let ids = (try? JSONParser.parse(data))?["ids"]?.objectValue
        else { return [:] }
        var out: [Int: (String, String)] = [:]
        for (id, entry) in ids {
            if let vmid = Int(id), let type = entry["type"]?.stringValue, let node = entry["node"]?.stringValue { out[vmid] = (type, node) }
        }
        return out
    }

    static func members(_ pool: UserConfig.Pool, _ access: AccessControl, type: String?) -> [JSON] {
        let known = guests(access)
        var out: [JSON] = []
        for vmid in pool.vms.sorted() {
            let guest = known[vmid]
            let kind = guest?.type ?? "qemu"
            guard type == nil || type == kind else { continue }
            var item: [String: JSON] = ["id": .string("\(kind)/\(vmid)"), "vmid": JSON(vmid), "type": .string(kind)]
            if let node = guest?.node {
                item["node"] = .string(node)
                // tools group hosts by a member's name (Ansible's inventory), as PVE's resource rows carry it
                let store = GuestStore(fs: access.fs, node: node, type: kind)
                if let current = try? store.load(vmid).config.current, let name = current["name"] ?? current["hostname"] {
                    item["name"] = .string(name)
                }
            }
            out.append(.object(item))
        }
        if type == nil || type == "storage" {
            for storage in pool.storage.sorted() {
                out.append(["id": .string("storage/\(storage)"), "storage": .string(storage), "type": "storage"])
            }
        }
        return out
    }

    public static func all(access: AccessControl) -> [Endpoint] {
        let read: @Sendable (RequestContext) throws -> JSON = { context in
            let id = try context.require("poolid")
            guard let pool = access.userConfig.pools[id] else { throw APIError(500, "pool '\(id)' does not exist") }
            var out: [String: JSON] = ["members": .array(members(pool, access, type: context.string("type")))]
            if !pool.comment.isEmpty { out["comment"] = .string(pool.comment) }
            return .object(out)
        }
        let update: @Sendable (RequestContext) throws -> JSON = { context in
            let id = try context.require("poolid")
            let remove = context.bool("delete") ?? false, move = context.bool("allow-move") ?? false
            let vms = AccessEndpoints.list(context.string("vms")).compactMap { Int($0) }
            let storage = AccessEndpoints.list(context.string("storage"))
            // adding or removing members needs the right to allocate them
            for vmid in vms where !context.has(["VM.Allocate"], on: "/vms/\(vmid)") {
                throw APIError(403, "Permission check failed (/vms/\(vmid), VM.Allocate)")
            }
            for s in storage where !context.has(["Datastore.Allocate"], on: "/storage/\(s)") {
                throw APIError(403, "Permission check failed (/storage/\(s), Datastore.Allocate)")
            }
            try AccessEndpoints.update(access) { config in
                guard var pool = config.pools[id] else { throw APIError(500, "pool '\(id)' does not exist") }
                if let comment = context.string("comment") { pool.comment = comment }
                if remove {
                    pool.vms.removeAll { vms.contains($0) }
                    pool.storage.removeAll { storage.contains($0) }
                } else {
                    for vmid in vms where !pool.vms.contains(vmid) {
                        if let other = config.pools.values.first(where: { $0.id != id && $0.vms.contains(vmid) }) {
                            guard move else { throw APIError(400, "VM \(vmid) is already a member of pool '\(other.id)'") }
                            config.pools[other.id]!.vms.removeAll { $0 == vmid }
                        }
                        pool.vms.append(vmid)
                    }
                    for s in storage where !pool.storage.contains(s) { pool.storage.append(s) }
                }
                config.pools[id] = pool
            }
            return .null
        }
        let delete: @Sendable (RequestContext) throws -> JSON = { context in
            let id = try context.require("poolid")
            try AccessEndpoints.update(access) { config in
                guard let pool = config.pools[id] else { throw APIError(500, "pool '\(id)' does not exist") }
                guard pool.vms.isEmpty, pool.storage.isEmpty else { throw APIError(500, "pool '\(id)' is not empty") }
                guard !config.pools.keys.contains(where: { $0.hasPrefix(id + "/") }) else { throw APIError(400, "pool '\(id)' has sub-pools") }
                config.pools[id] = nil
                config.acl.removeAll { $0.path == "/pool/" + id }
            }
            return .null
        }
        let allocate: Permission = .privileges(path: "/pool/{poolid}", ["Pool.Allocate"])
        return [
            Endpoint(
                .GET, "/pools", name: "index", description: "Pools the caller may audit, with their members when one is named.",
                parameters: ["poolid": poolid.optional(), "type": typeFilter],
                returns: .array(of: .object(["poolid": .string()], additionalProperties: true)), permission: .anyUser, childKey: "poolid",
                handler: .sync { context in
                    .array(
                        access.userConfig.pools.values.sorted { $0.id < $1.id }.filter { pool in
                            guard context.string("poolid") == nil || context.string("poolid") == pool.id else { return false }
                            return context.has(["Pool.Audit"], on: "/pool/" + pool.id)
                        }.map { pool in
                            var item: [String: JSON] = ["poolid": .string(pool.id)]
                            if !pool.comment.isEmpty { item["comment"] = .string(pool.comment) }
                            if context.string("poolid") != nil { item["members"] = .array(members(pool, access, type: context.string("type"))) }
                            return .object(item)
                        })
                }),
            Endpoint(
                .POST, "/pools", name: "create_pool", description: "Create a pool (a/b/c nests under existing pools).",
                parameters: ["poolid": poolid, "comment": Schema.string(maxLength: 2048).optional()], returns: .null,
                permission: allocate, protected: true,
                handler: .blocking { context in
                    let id = try context.require("poolid")
                    try AccessEndpoints.update(access) { config in
                        guard config.pools[id] == nil else { throw APIError(400, "pool '\(id)' already exists") }
                        if let slash = id.lastIndex(of: "/"), config.pools[String(id[..<slash])] == nil {
                            throw APIError(400, "parent pool '\(id[..<slash])' does not exist")
                        }
                        var pool = UserConfig.Pool(id: id)
                        pool.comment = context.string("comment") ?? ""
                        config.pools[id] = pool
                    }
                    return .null
                }),
            Endpoint(
                .PUT, "/pools", name: "update_pool", description: "Change a pool's comment or members.",
                parameters: changes, returns: .null, permission: allocate, protected: true, handler: .blocking(update)),
            Endpoint(
                .DELETE, "/pools", name: "delete_pool", description: "Delete an empty pool.",
                parameters: ["poolid": poolid], returns: .null, permission: allocate, protected: true, handler: .blocking(delete)),
            Endpoint(
                .GET, "/pools/{poolid}", name: "read_pool", description: "A pool and its members.",
                parameters: ["poolid": poolid, "type": typeFilter], returns: .object([:], additionalProperties: true),
                permission: .privileges(path: "/pool/{poolid}", ["Pool.Audit"]), handler: .sync(read)),
            Endpoint(
                .PUT, "/pools/{poolid}", name: "update_pool_deprecated", description: "Change a pool (older path).",
                parameters: changes, returns: .null, permission: allocate, protected: true, handler: .blocking(update)),
            Endpoint(
                .DELETE, "/pools/{poolid}", name: "delete_pool_deprecated", description: "Delete an empty pool (older path).",
                parameters: ["poolid": poolid], returns: .null, permission: allocate, protected: true, handler: .blocking(delete)),
        ]
    }
}
