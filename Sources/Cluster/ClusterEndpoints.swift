import API
import ClusterFS
import Foundation
import Guests
import Nodes
import Schema
import Storage

/// `/cluster/resources`, `/cluster/status` and `/cluster/nextid`: the cluster-wide views that every domain contributes to.
enum ClusterEndpoints {
    /// `/cluster/resources`' rows the caller may see: each type asks its own privileges, and a guest
    /// row carries its pool.
    static func visibleRows(
        _ context: RequestContext, state: ClusterState, type: String?, pools: @Sendable () -> [Int: String]
    ) -> [[String: JSON]] {
        var out: [[String: JSON]] = []
        let poolOf = pools()
        for var row in state.rows(type: type) {
            switch row["type"]?.stringValue {
            case "node":
                guard context.has(["Sys.Audit"], on: "/nodes/\(row["node"]?.stringValue ?? "")") else { continue }
            case "storage":
                guard context.has(["Datastore.Audit", "Datastore.AllocateSpace"], on: "/storage/\(row["storage"]?.stringValue ?? "")", any: true)
                else { continue }
            case "sdn":
                guard context.has(["SDN.Audit"], on: "/sdn/zones/\(row["sdn"]?.stringValue ?? "")") else { continue }
            default:
                guard let vmid = row["vmid"]?.intValue, context.has(["VM.Audit"], on: "/vms/\(vmid)") else { continue }
                if let pool = poolOf[Int(vmid)] { row["pool"] = .string(pool) }
            }
            out.append(row)
        }
        return out
    }

    static func all(
        guests: GuestBackends, storage: Storage, state: ClusterState, pools: @escaping @Sendable () -> [Int: String]
    ) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /cluster/resources", description: "Nodes, guests, storages and SDN zones in one list (what consoles poll).",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser,
                handler: .blocking { context in
                    .array(visibleRows(context, state: state, type: context.string("type"), pools: pools).map { .object($0) })
                }),
            prometheus(state: state, pools: pools),
            Endpoint(
                pve: "GET /cluster/status", description: "The cluster and its nodes, as corosync sees them; a standalone node lists itself.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .privileges(path: "/", ["Sys.Audit"]),
                handler: .blocking { context in
                    try clusterStatus(members: try storage.fs.readString(".members"), local: context.services.nodeName)
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
