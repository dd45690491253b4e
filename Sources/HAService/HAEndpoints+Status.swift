import API
import ClusterFS
import Foundation
import Glibc
import Guests
import HA
import Schema

extension HAEndpoints {
    /// `Fri Dec  4 22:00:00 2026`, as PVE's status lines show times.
    static func ctime(_ seconds: Double) -> String {
        var time = time_t(seconds)
        var buffer = [CChar](repeating: 0, count: 32)
        guard ctime_r(&time, &buffer) != nil else { return String(Int(seconds)) }
        return String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A manager whose file is older than this is reported as possibly dead (PVE's wording).
    static let stale: Double = 60

    static func current(_ service: HAService) -> [JSON] {
        let tree = service.tree, now = Date().timeIntervalSince1970
        let quorate = (tree as? ClusterFS)?.isQuorate() ?? true
        var rows: [JSON] = [
            [
                "id": "quorum", "type": "quorum", "node": .string(service.node), "quorate": .int(quorate ? 1 : 0),
                "status": .string(quorate ? "OK" : "No quorum on node '\(service.node)'!"),
            ]
        ]
        let (status, stamp) = HAStatusFile.decode(try? tree.read(HAService.managerStatusFile))
        let resources = (try? HAConfig.resources(resources: (try? tree.readString(HAService.resourcesFile)) ?? "")) ?? [:]
        if let master = status.master {
            let state = now - stamp > stale ? "old timestamp - dead?" : "active"
            rows.append([
                "id": "master", "type": "master", "node": .string(master), "timestamp": .int(Int64(stamp)),
                "status": .string("\(master) (\(state), \(ctime(stamp)))"),
            ])
        }
        for node in service.membership().nodes {
            guard let (report, _, time) = HAStatusFile.decodeLRM(try? tree.read(HAService.lrmStatusFile(node))) else { continue }
            var state = status.services.values.contains { $0.node == node } ? "active" : "idle"
            if report.mode == "maintenance" || status.nodes[node] == "maintenance" { state = "maintenance mode" }
            if now - time > stale { state = "old timestamp - dead?" }
            rows.append([
                "id": .string("lrm:\(node)"), "type": "lrm", "node": .string(node), "timestamp": .int(Int64(time)),
                "status": .string("\(node) (\(state), \(ctime(time)))"),
            ])
        }
        for (sid, resource) in resources.sorted(by: { $0.key < $1.key }) {
            let managed = status.services[sid]
            let state = managed?.state ?? "queued"
            let vmid = Int(sid.split(separator: ":").last ?? "") ?? 0
            let node = managed?.node ?? GuestStore(fs: tree, node: service.node, type: "lxc").owner(of: vmid)?.node ?? ""
            var row: [String: JSON] = [
                "id": .string("service:\(sid)"), "type": "service", "sid": .string(sid), "node": .string(node), "state": .string(state),
                "crm_state": .string(state), "request_state": .string(resource.state), "max_restart": .int(Int64(resource.maxRestart)),
                "max_relocate": .int(Int64(resource.maxRelocate)), "failback": .int(resource.failback ? 1 : 0),
                "status": .string("\(sid) (\(node), \(state))"),
            ]
            if let target = managed?.target { row["target"] = .string(target) }
            rows.append(.object(row))
        }
        return rows
    }

    static func status(_ service: HAService) -> [Endpoint] {
        let tree = service.tree
        return [
            Endpoint(
                pve: "GET /cluster/ha/status", description: "Directory index.", returns: .array(of: .object([:], additionalProperties: true)),
                permission: .anyUser, childKey: "name",
                handler: .sync { _ in .array(["current", "manager_status"].map { ["name": .string($0)] }) }),
            Endpoint(
                pve: "GET /cluster/ha/status/current", description: "The HA stack's state: quorum, master, each node's local manager, each service.",
                returns: .array(of: .object(["id": .string()], additionalProperties: true)), permission: audit,
                handler: .blocking { _ in .array(current(service)) }),
            Endpoint(
                pve: "GET /cluster/ha/status/manager_status", description: "The manager's and the local managers' status files.",
                returns: .object([:], additionalProperties: true), permission: audit,
                handler: .blocking { _ in
                    let parse = { (path: String) -> JSON in (try? tree.read(path)).flatMap { try? JSONParser.parse($0) } ?? .object([:]) }
                    var lrm: [String: JSON] = [:]
                    for node in service.membership().nodes where tree.exists(HAService.lrmStatusFile(node)) {
                        lrm[node] = parse(HAService.lrmStatusFile(node))
                    }
                    let quorate = (tree as? ClusterFS)?.isQuorate() ?? true
                    return [
                        "manager_status": parse(HAService.managerStatusFile), "lrm_status": .object(lrm),
                        "quorum": ["node": .string(service.node), "quorate": .string(quorate ? "1" : "0")],
                    ]
                }),
            Endpoint(
                .POST, "/cluster/ha/status/maintenance", name: "node_maintenance",
                description:
                    "Puts a node into HA maintenance (its HA services move to other nodes and come back when it ends) or takes it out (`ha-manager crm-command node-maintenance`).",
                parameters: [
                    "node": .node,
                    "enable": Schema.boolean(description: "Enter maintenance (1) or leave it (0)."),
                ], returns: .null, permission: console, protected: false,
                handler: .blocking { context in
                    let node = try context.require("node")
                    guard service.membership().nodes.contains(node) else { throw APIError.parameters(["node": "no such cluster node '\(node)'"]) }
                    try HAConfigStore(tree: tree).append(.maintenance(node: node, enable: context.bool("enable") ?? true))
                    return .null
                }),
        ]
    }
}
