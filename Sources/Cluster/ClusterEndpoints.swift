import API
import ClusterFS
import Foundation
import Guests
import Nodes
import Schema
import Storage

/// `/cluster/resources`, `/cluster/status` and `/cluster/nextid`: the cluster-wide views that every domain contributes to.
enum ClusterEndpoints {
    static func all(guests: GuestBackends, storage: Storage, sampler: CPUSampler, poolOf: @escaping @Sendable (Int) -> String?) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /cluster/resources", description: "Nodes, guests and storages in one list (what consoles poll).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser,
                handler: .blocking { context in
                    let type = context.string("type")
                    var out: [JSON] = []
                    let node = context.services.nodeName
                    if type == nil || type == "node", context.has(["Sys.Audit"], on: "/nodes/\(node)") {
                        let memory = NodeStatus.memory(), disk = NodeStatus.filesystem("/")
                        out.append([
                            "id": .string("node/\(node)"), "type": "node", "node": .string(node), "status": "online", "level": "",
                            "cpu": .number(sampler.fractions().cpu), "maxcpu": JSON(NodeStatus.cpuCount), "mem": JSON(memory.used),
                            "maxmem": JSON(memory.total), "disk": JSON(disk.used), "maxdisk": JSON(disk.total), "uptime": JSON(NodeStatus.uptime()),
                        ])
                    }
                    if type == nil || type == "vm" {
                        for backend in guests.all {
                            for vmid in backend.vmids() where context.has(["VM.Audit"], on: "/vms/\(vmid)") {
                                if var row = backend.resourceRow(vmid) {
                                    if let pool = poolOf(vmid) { row["pool"] = .string(pool) }
                                    out.append(.object(row))
                                }
                            }
                        }
                    }
                    if type == nil || type == "storage", let entries = try? storage.config().entries {
                        for entry in entries
                        where entry.isAvailable(on: node)
                            && context.has(["Datastore.Audit", "Datastore.AllocateSpace"], on: "/storage/\(entry.id)", any: true)
                        {
                            var item: [String: JSON] = [
                                "id": .string("storage/\(node)/\(entry.id)"), "type": "storage", "storage": .string(entry.id), "node": .string(node),
                                "plugintype": .string(entry.type), "content": .string(entry.content.sorted().joined(separator: ",")),
                                "shared": entry["shared"] == "1" ? 1 : 0, "status": "unknown",
                            ]
                            if let plugin = try? storage.plugin(for: entry), let s = try? plugin.status() {
                                item["status"] = "available"
                                item["disk"] = .int(s.used)
                                item["maxdisk"] = .int(s.total)
                            }
                            out.append(.object(item))
                        }
                    }
                    return .array(out)
                }),
            Endpoint(
                pve: "GET /cluster/status", description: "The cluster and its nodes, as corosync sees them; a standalone node lists itself.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    try clusterStatus(members: try storage.fs.readString(".members"), local: context.services.nodeName)
                }),
            Endpoint(
                pve: "GET /cluster/backup-info/not-backed-up",
                description: "Guests no backup job covers (until backup jobs exist, every guest).",
                returns: .array(of: .object(["vmid": .integer(), "type": .string()], additionalProperties: true)),
                permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    // backup jobs (jobs.cfg) arrive with the backup domain, which subtracts what they cover
                    var rows: [(vmid: Int, row: JSON)] = []
                    for backend in guests.all {
                        for vmid in backend.vmids() where context.has(["VM.Audit"], on: "/vms/\(vmid)") {
                            let current = try? backend.load(vmid).config.current
                            var item: [String: JSON] = ["vmid": JSON(vmid), "type": .string(backend.type)]
                            if let name = current?["name"] ?? current?["hostname"] { item["name"] = .string(name) }
                            rows.append((vmid, .object(item)))
                        }
                    }
                    return .array(rows.sorted { $0.vmid < $1.vmid }.map(\.row))
                }),
            Endpoint(
                pve: "GET /cluster/nextid", description: "A free VMID: the lowest from 100, or checks the one given.",
                returns: .integer(), permission: .anyUser,
                handler: .blocking { context in
                    if let wanted = context.int("vmid") {
                        if guests.owner(of: Int(wanted)) != nil { throw APIError.parameters(["vmid": "VM \(wanted) already exists"]) }
                        return .string("\(wanted)")
                    }
                    var vmid = 100
                    while guests.owner(of: vmid) != nil { vmid += 1 }
                    return .string("\(vmid)")
                }),
        ]
    }

    /// `/cluster/status` from the `.members` file: a `cluster` row when a cluster is configured, then
    /// one row per configured node. Standalone, PVE answers with the node's row alone, `nodeid` 0.
    static func clusterStatus(members text: String, local: String) throws -> JSON {
        guard case .object(let members) = try JSONParser.parse(text) else { throw APIError(500, "cannot read the cluster membership") }
        let cluster = members["cluster"]?.objectValue ?? [:]
        let standalone = cluster["name"]?.stringValue == "local"
        var rows: [JSON] = []
        if !standalone {
            rows.append([
                "type": "cluster", "id": "cluster", "name": cluster["name"] ?? "", "nodes": cluster["nodes"] ?? 0,
                "quorate": cluster["quorate"] ?? 0, "version": cluster["version"] ?? 0,
            ])
        }
        let nodes = members["nodelist"]?.objectValue ?? [:]
        for name in nodes.keys.sorted() {
            let node = nodes[name]?.objectValue ?? [:]
            rows.append([
                "type": "node", "id": .string("node/\(name)"), "name": .string(name), "ip": node["ip"] ?? "",
                "nodeid": standalone ? 0 : node["id"] ?? 0, "online": node["online"] ?? 0, "local": name == local ? 1 : 0, "level": "",
            ])
        }
        return .array(rows)
    }
}
