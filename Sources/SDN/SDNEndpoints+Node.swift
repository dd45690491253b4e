import API
import ClusterFS
import Foundation
import Schema

extension SDNEndpoints {
    /// `/nodes/{node}/sdn/*`: what this node runs (the call is forwarded to the node it names).
    static func node(_ store: SDNStore) -> [Endpoint] {
        let audit = Permission.privileges(path: "/sdn/zones/{zone}", ["SDN.Audit"])
        /// zone → "available" | "pending" | "error", and the error text.
        @Sendable func zoneStates() throws -> [(zone: String, type: String, status: String, message: String?)] {
            let running = store.running()
            let pending = try store.pending()
            let status = store.service.status
            let changed = SDNStore.states(pending: pending, running: running, kind: "zones")
            return running.zones.sorted { $0.key < $1.key }.filter { SDNCompiler.runs($0.value, on: store.service.node) }.map { id, zone in
                if let problem = status.zones[id] ?? nil { return (id, zone.type, "error", problem) }
                if status.version != running.version || changed[id] != nil || status.zones[id] == nil { return (id, zone.type, "pending", nil) }
                return (id, zone.type, "available", nil)
            }
        }
        return [
            index("/nodes/{node}/sdn", ["zones", "vnets"]),
            Endpoint(
                pve: "GET /nodes/{node}/sdn/zones", description: "The zones this node runs and whether each is up.",
                returns: .array(of: .object(["zone": .string(), "status": .string()], additionalProperties: true)), permission: .anyUser,
                childKey: "zone",
                handler: .blocking { context in
                    .array(
                        try zoneStates().filter { context.has(["SDN.Audit"], on: "/sdn/zones/\($0.zone)") }.map { row in
                            var out: [String: JSON] = ["zone": .string(row.zone), "status": .string(row.status), "type": .string(row.type)]
                            if let message = row.message { out["statusmsg"] = .string(message) }
                            return .object(out)
                        })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/sdn/zones/{zone}", description: "Directory index.",
                returns: .array(of: .object([:], additionalProperties: true)),
                permission: audit, childKey: "subdir",
                handler: .blocking { context in
                    let zone = try context.require("zone")
                    guard store.running().zones[zone] != nil else { throw missing("zone", zone) }
                    return .array(["content", "bridges"].map { ["subdir": .string($0)] })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/sdn/zones/{zone}/content", description: "The zone's vnets on this node and their state.",
                returns: .array(of: .object(["vnet": .string()], additionalProperties: true)), permission: audit, childKey: "vnet",
                handler: .blocking { context in
                    let zone = try context.require("zone")
                    let running = store.running()
                    guard running.zones[zone] != nil else { throw missing("zone", zone) }
                    let state = try zoneStates().first { $0.zone == zone }
                    return .array(
                        running.vnets.filter { $0.value["zone"] == zone }.keys.sorted().map { vnet in
                            let up = FileManager.default.fileExists(atPath: "/sys/class/net/\(vnet)")
                            var row: [String: JSON] = [
                                "vnet": .string(vnet),
                                "status": .string(up && state?.status == "available" ? "available" : state?.status ?? "pending"),
                            ]
                            if !up { row["statusmsg"] = .string(state?.message ?? "the bridge does not exist on this node") }
                            return .object(row)
                        })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/sdn/zones/{zone}/bridges", description: "The zone's vnet bridges on this node and the guest ports on them.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: audit,
                handler: .blocking { context in
                    let zone = try context.require("zone")
                    let running = store.running()
                    guard running.zones[zone] != nil else { throw missing("zone", zone) }
                    return .array(
                        running.vnets.filter { $0.value["zone"] == zone }.keys.sorted().map { vnet in
                            let ports = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net/\(vnet)/brif")) ?? []).sorted().map {
                                port -> JSON in
                                var row: [String: JSON] = ["name": .string(port)]
                                // tap<vmid>i<n> and veth<vmid>i<n> are guests' ports
                                for prefix in ["tap", "veth"] where port.hasPrefix(prefix) {
                                    let rest = port.dropFirst(prefix.count).split(separator: "i")
                                    if rest.count == 2, let vmid = Int(rest[0]) {
                                        row["vmid"] = .int(Int64(vmid))
                                        row["index"] = .string(String(rest[1]))
                                    }
                                }
                                return .object(row)
                            }
                            let filtering =
                                (try? String(contentsOfFile: "/sys/class/net/\(vnet)/bridge/vlan_filtering", encoding: .utf8))?
                                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "0"
                            return .object(["name": .string(vnet), "vlan_filtering": .string(filtering), "ports": .array(ports)])
                        })
                }),
            Endpoint(
                pve: "GET /nodes/{node}/sdn/vnets/{vnet}", description: "Directory index.",
                returns: .array(of: .object([:], additionalProperties: true)),
                permission: .anyUser, childKey: "subdir",
                handler: .blocking { context in
                    let vnet = try context.require("vnet")
                    guard store.running().vnets[vnet] != nil else { throw missing("vnet", vnet) }
                    return .array([])
                }),
        ]
    }
}
