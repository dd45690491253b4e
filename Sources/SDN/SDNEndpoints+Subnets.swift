import API
import ClusterFS
import Foundation
import Schema

extension SDNEndpoints {
    /// A subnet's id from the path or POST: `zone-address-prefix`, or a CIDR in the vnet's zone.
    static func subnetID(_ text: String, vnet: String, config: SDNConfig) throws -> String {
        if let cidr = Subnet(cidr: text) {
            guard let zone = config.vnets[vnet]?["zone"] else { throw missing("vnet", vnet) }
            return cidr.id(zone: zone)
        }
        guard Subnet.fromID(text) != nil else {
            throw APIError(400, "Parameter verification failed.", errors: ["subnet": "'\(text)' is not a subnet"])
        }
        return text
    }

    /// A subnet as the API shows it: its id plus cidr, network, mask, zone, and DHCP ranges as objects.
    static func subnetRow(_ row: [String: JSON], id: String) -> [String: JSON] {
        var row = row
        if let (zone, cidr) = Subnet.fromID(id) {
            row["cidr"] = .string(cidr.cidr)
            row["network"] = .string(cidr.address)
            row["mask"] = .int(Int64(cidr.prefix))
            row["zone"] = .string(zone)
        }
        if case .array(let ranges)? = row["dhcp-range"] {
            row["dhcp-range"] = .array(
                ranges.map { range in
                    var object: [String: JSON] = [:]
                    for part in range.plainText.split(separator: ",") {
                        let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                        if kv.count == 2 { object[kv[0]] = .string(kv[1]) }
                    }
                    return .object(object)
                })
        }
        return row
    }

    static func subnets(_ store: SDNStore) -> [Endpoint] {
        let base = "/cluster/sdn/vnets/{vnet}/subnets"
        return [
            Endpoint(
                pve: "GET \(base)", description: "The vnet's subnets.",
                returns: .array(of: .object(["subnet": .string()], additionalProperties: true)),
                permission: .anyUser, childKey: "subnet",
                handler: .blocking { context in
                    let vnet = try context.require("vnet")
                    try need(context, "SDN.Audit", vnet: vnet, zone: try store.pending().vnets[vnet]?["zone"] ?? store.running().vnets[vnet]?["zone"])
                    return .array(
                        try store.rows(context, kind: "subnets", idKey: "subnet") { _, subnet in subnet["vnet"] == vnet }
                            .map { .object(subnetRow($0, id: $0["subnet"]?.plainText ?? "")) })
                }),
            Endpoint(
                pve: "GET \(base)/{subnet}", description: "One subnet.", returns: .object([:], additionalProperties: true), permission: .anyUser,
                handler: .blocking { context in
                    let vnet = try context.require("vnet")
                    try need(context, "SDN.Audit", vnet: vnet, zone: try store.pending().vnets[vnet]?["zone"] ?? store.running().vnets[vnet]?["zone"])
                    let id = try subnetID(try context.require("subnet"), vnet: vnet, config: try store.pending())
                    guard
                        let row = try store.rows(context, kind: "subnets", idKey: "subnet", filter: { key, s in key == id && s["vnet"] == vnet })
                            .first
                    else { throw missing("subnet", id) }
                    return .object(subnetRow(row, id: id))
                }),
            Endpoint(
                pve: "POST \(base)", description: "Creates a subnet of the vnet; its gateway is entered in the IPAM.", permission: .anyUser,
                handler: .blocking { context in
                    let vnet = try context.require("vnet")
                    var made: (id: String, gateway: String?)?
                    try store.modify(context, kind: "subnets") { config in
                        guard let owner = config.vnets[vnet] else { throw missing("vnet", vnet) }
                        try need(context, "SDN.Allocate", vnet: vnet, zone: owner["zone"])
                        let text = try context.require("subnet")
                        guard Subnet(cidr: text) != nil else {
                            throw APIError(400, "Parameter verification failed.", errors: ["subnet": "'\(text)' is not a CIDR"])
                        }
                        let id = try subnetID(text, vnet: vnet, config: config)
                        guard config.subnets[id] == nil else {
                            throw APIError(400, "Parameter verification failed.", errors: ["subnet": "subnet '\(id)' already exists"])
                        }
                        var subnet = SDNObject(type: "subnet", values: ["vnet": vnet])
                        update(&subnet, context, id: "subnet")
                        config.objects["subnets", default: [:]][id] = subnet
                        made = (id, subnet["gateway"])
                    }
                    if let made, let gateway = made.gateway { try setGateway(store, subnetID: made.id, old: nil, new: gateway) }
                    return .null
                }),
            Endpoint(
                pve: "PUT \(base)/{subnet}", description: "Changes a subnet (pending until applied).", permission: .anyUser,
                handler: .blocking { context in
                    let vnet = try context.require("vnet")
                    var gateways: (id: String, old: String?, new: String?)?
                    try store.modify(context, kind: "subnets") { config in
                        try need(context, "SDN.Allocate", vnet: vnet, zone: config.vnets[vnet]?["zone"])
                        let id = try subnetID(try context.require("subnet"), vnet: vnet, config: config)
                        guard var subnet = config.subnets[id], subnet["vnet"] == vnet else { throw missing("subnet", id) }
                        let old = subnet["gateway"]
                        update(&subnet, context, id: "subnet")
                        subnet.values["vnet"] = vnet
                        config.objects["subnets"]![id] = subnet
                        gateways = (id, old, subnet["gateway"])
                    }
                    if let gateways, gateways.old != gateways.new {
                        try setGateway(store, subnetID: gateways.id, old: gateways.old, new: gateways.new)
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE \(base)/{subnet}", description: "Removes a subnet whose addresses no guest holds.", permission: .anyUser,
                handler: .blocking { context in
                    let vnet = try context.require("vnet")
                    var removed: (id: String, gateway: String?)?
                    try store.modify(context, kind: "subnets") { config in
                        try need(context, "SDN.Allocate", vnet: vnet, zone: config.vnets[vnet]?["zone"])
                        let id = try subnetID(try context.require("subnet"), vnet: vnet, config: config)
                        guard let subnet = config.subnets[id], subnet["vnet"] == vnet else { throw missing("subnet", id) }
                        let cidr = Subnet.fromID(id)!.subnet.cidr
                        if let held = SDNIPAM(tree: store.tree).entries().first(where: { $0.subnet == cidr && $0.values["gateway"] == nil }) {
                            throw APIError(400, "cannot delete subnet '\(id)': \(held.ip) is allocated" + (held.vmid.map { " to guest \($0)" } ?? ""))
                        }
                        config.objects["subnets"]![id] = nil
                        removed = (id, subnet["gateway"])
                    }
                    if let removed { try setGateway(store, subnetID: removed.id, old: removed.gateway, new: nil) }
                    return .null
                }),
        ]
    }

    static func setGateway(_ store: SDNStore, subnetID: String, old: String?, new: String?) throws {
        guard let (zone, cidr) = Subnet.fromID(subnetID) else { return }
        try SDNIPAM(tree: store.tree).modify { entries in
            if let old { entries.removeAll { $0.subnet == cidr.cidr && $0.ip == old && $0.values["gateway"] != nil } }
            if let new, !entries.contains(where: { $0.subnet == cidr.cidr && $0.ip == new }) {
                entries.append(SDNIPAM.Entry(zone: zone, subnet: cidr.cidr, ip: new, values: ["gateway": "1"]))
            }
        }
    }
}
