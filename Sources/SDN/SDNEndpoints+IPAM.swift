import API
import ClusterFS
import Foundation
import Schema

extension SDNEndpoints {
    static func ipams(_ store: SDNStore) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /cluster/sdn/ipams", description: "The IPAMs (PVE's built-in one).",
                returns: .array(of: .object(["ipam": .string(), "type": .string()], additionalProperties: true)), permission: .anyUser,
                childKey: "ipam",
                handler: .blocking { context in
                    let type = context.parameters["type"]?.plainText
                    return .array(
                        (try store.pending().objects["ipams"] ?? [:]).sorted { $0.key < $1.key }.filter { type == nil || $0.value.type == type }
                            .map { .object($0.value.json(id: "ipam", $0.key)) })
                }),
            Endpoint(
                pve: "GET /cluster/sdn/ipams/{ipam}", description: "One IPAM.", returns: .object([:], additionalProperties: true),
                permission: .privileges(path: "/sdn/ipams/{ipam}", ["SDN.Allocate"]),
                handler: .blocking { context in
                    let id = try context.require("ipam")
                    guard let ipam = try store.pending().objects["ipams"]?[id] else { throw missing("ipam", id) }
                    return .object(ipam.json(id: "ipam", id))
                }),
            Endpoint(
                pve: "GET /cluster/sdn/ipams/{ipam}/status", description: "The addresses the IPAM holds: gateways and guests' NICs.",
                returns: .array(of: .object([:], additionalProperties: true)), permission: .anyUser,
                handler: .blocking { context in
                    let id = try context.require("ipam")
                    guard context.has(["SDN.Audit"], on: "/sdn/ipams/\(id)") || context.has(["SDN.Audit"], on: "/sdn") else {
                        throw APIError(403, "Permission check failed (/sdn/ipams/\(id), SDN.Audit)")
                    }
                    let config = try store.pending()
                    guard config.objects["ipams"]?[id] != nil else { throw missing("ipam", id) }
                    var vnetOf: [String: String] = [:]
                    for (subnetID, subnet) in config.subnets {
                        if let (zone, cidr) = Subnet.fromID(subnetID) { vnetOf["\(zone) \(cidr.cidr)"] = subnet["vnet"] }
                    }
                    return .array(
                        SDNIPAM(tree: store.tree).entries().map { entry in
                            var row: [String: JSON] = ["zone": .string(entry.zone), "subnet": .string(entry.subnet), "ip": .string(entry.ip)]
                            if let vnet = vnetOf["\(entry.zone) \(entry.subnet)"] { row["vnet"] = .string(vnet) }
                            for (key, value) in entry.values { row[key] = key == "gateway" ? .int(1) : .string(value) }
                            return .object(row)
                        })
                }),
        ] + ips(store)
    }

    /// `/cluster/sdn/vnets/{vnet}/ips`: MAC-to-address mappings by hand (what DHCP answers).
    static func ips(_ store: SDNStore) -> [Endpoint] {
        let base = "/cluster/sdn/vnets/{vnet}/ips"
        /// The subnet of the vnet `ip` is in, as (zone, cidr).
        @Sendable func locate(_ context: RequestContext) throws -> (zone: String, cidr: String, ip: String) {
            let vnet = try context.require("vnet"), zone = try context.require("zone"), ip = try context.require("ip")
            let config = try store.pending()
            guard config.vnets[vnet]?["zone"] == zone else {
                throw APIError(400, "Parameter verification failed.", errors: ["zone": "vnet '\(vnet)' is not in zone '\(zone)'"])
            }
            guard
                let subnet = config.subnets.compactMap({ id, s in s["vnet"] == vnet ? Subnet.fromID(id)?.subnet : nil }).first(where: {
                    $0.contains(ip)
                })
            else {
                throw APIError(400, "Parameter verification failed.", errors: ["ip": "\(ip) is in no subnet of vnet '\(vnet)'"])
            }
            return (zone, subnet.cidr, ip)
        }
        return [
            Endpoint(
                pve: "POST \(base)", description: "Maps a MAC address to an address of the vnet.",
                permission: .privileges(path: "/sdn/zones/{zone}/{vnet}", ["SDN.Allocate"]),
                handler: .blocking { @Sendable context in
                    let (zone, cidr, ip) = try locate(context)
                    let mac = (try context.require("mac")).lowercased()
                    try SDNIPAM(tree: store.tree).modify { entries in
                        if let taken = entries.first(where: { $0.subnet == cidr && $0.ip == ip }) {
                            throw APIError(
                                400, "Parameter verification failed.", errors: ["ip": "\(ip) is already held" + (taken.mac.map { " by \($0)" } ?? "")]
                            )
                        }
                        entries.append(SDNIPAM.Entry(zone: zone, subnet: cidr, ip: ip, values: ["mac": mac]))
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT \(base)", description: "Changes which address a MAC address gets.",
                permission: .privileges(path: "/sdn/zones/{zone}/{vnet}", ["SDN.Allocate"]),
                handler: .blocking { @Sendable context in
                    let (zone, cidr, ip) = try locate(context)
                    let mac = (try context.require("mac")).lowercased()
                    try SDNIPAM(tree: store.tree).modify { entries in
                        var values = entries.first { $0.zone == zone && $0.mac?.lowercased() == mac }?.values ?? ["mac": mac]
                        if let vmid = context.parameters["vmid"]?.plainText { values["vmid"] = vmid }
                        if entries.contains(where: { $0.subnet == cidr && $0.ip == ip && $0.mac?.lowercased() != mac }) {
                            throw APIError(400, "Parameter verification failed.", errors: ["ip": "\(ip) is already held"])
                        }
                        entries.removeAll { $0.zone == zone && $0.mac?.lowercased() == mac }
                        entries.append(SDNIPAM.Entry(zone: zone, subnet: cidr, ip: ip, values: values))
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE \(base)", description: "Removes a mapping.", permission: .privileges(path: "/sdn/zones/{zone}/{vnet}", ["SDN.Allocate"]),
                handler: .blocking { @Sendable context in
                    let (_, cidr, ip) = try locate(context)
                    let mac = (try context.require("mac")).lowercased()
                    let found = try SDNIPAM(tree: store.tree).modify { entries -> Bool in
                        let before = entries.count
                        entries.removeAll { $0.subnet == cidr && $0.ip == ip && $0.mac?.lowercased() == mac }
                        return entries.count != before
                    }
                    if !found { throw APIError(400, "no mapping of \(mac) to \(ip)") }
                    return .null
                }),
        ]
    }
}
