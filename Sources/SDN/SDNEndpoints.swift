import API
import ClusterFS
import Foundation
import Schema

/// The SDN API: `/cluster/sdn/*` (zones, vnets, subnets, IPAM, apply, lock, rollback, dry run) and
/// `/nodes/{node}/sdn/*` (what a node runs), PVE's paths and parameters.
enum SDNEndpoints {
    static let bookkeeping: Set<String> = ["type", "lock-token", "digest", "delete", "pending", "running", "node"]
    static let audit = Permission.privileges(path: "/sdn", ["SDN.Audit"])
    static let allocate = Permission.privileges(path: "/sdn/zones", ["SDN.Allocate"])

    /// Which options each zone type takes (PVE's plugins; the API's schema is their union).
    static let zoneOptions: [String: Set<String>] = [
        "simple": ["ipam", "dhcp", "dns", "dnszone", "reversedns", "mtu", "nodes"],
        "vlan": ["bridge", "bridge-disable-mac-learning", "ipam", "dns", "dnszone", "reversedns", "mtu", "nodes"],
        "qinq": ["bridge", "tag", "vlan-protocol", "bridge-disable-mac-learning", "ipam", "dns", "dnszone", "reversedns", "mtu", "nodes"],
        "vxlan": ["peers", "vxlan-port", "fabric", "ipam", "dns", "dnszone", "reversedns", "mtu", "nodes"],
    ]

    static func all(_ store: SDNStore) -> [Endpoint] {
        [index("/cluster/sdn", ["controllers", "dns", "ipams", "vnets", "zones"], permission: audit)]
            + zones(store) + vnets(store) + subnets(store) + ipams(store) + apply(store) + node(store)
    }

    static func index(_ path: String, _ children: [String], permission: Permission = .anyUser) -> Endpoint {
        Endpoint(
            pve: "GET \(path)", description: "Directory index.", returns: .array(of: .object([:], additionalProperties: true)),
            permission: permission, childKey: "id",
            handler: .sync { _ in .array(children.map { ["id": .string($0), "name": .string($0)] }) })
    }

    /// The options a call sets: its parameters less the path's and the bookkeeping.
    static func options(_ context: RequestContext, id: String) -> (values: [String: String], lists: [String: [String]]) {
        var values: [String: String] = [:], lists: [String: [String]] = [:]
        // the object's id and its path's vnet are not options of it
        let skip = bookkeeping.union([id] + (id == "subnet" ? ["vnet"] : []))
        for (key, value) in context.parameters where !skip.contains(key) {
            switch value {
            case .bool(let flag): values[key] = flag ? "1" : "0"
            case .array(let items): lists[key] = items.map(\.plainText)
            default:
                if SDNObject.repeatable.contains(key) { lists[key] = [value.plainText] } else { values[key] = value.plainText }
            }
        }
        return (values, lists)
    }

    /// Sets what the call gives, drops what `delete` names.
    static func update(_ object: inout SDNObject, _ context: RequestContext, id: String) {
        for key in Formats.splitList(context.parameters["delete"]?.plainText ?? "") {
            object.values[key] = nil
            object.lists[key] = nil
        }
        let (values, lists) = options(context, id: id)
        object.values.merge(values) { _, new in new }
        object.lists.merge(lists) { _, new in new }
    }

    static func missing(_ what: String, _ id: String) -> APIError { APIError(500, "sdn \(what) object ID '\(id)' does not exist") }

    /// PVE's in-handler check for calls open to every user: `privilege` on the vnet's zone path.
    static func need(_ context: RequestContext, _ privilege: String, vnet: String, zone: String?) throws {
        let path = "/sdn/zones/\(zone ?? "")/\(vnet)"
        guard context.has([privilege], on: path) else { throw APIError(403, "Permission check failed (\(path), \(privilege))") }
    }

    static let zoneAllocate = Permission.privileges(path: "/sdn/zones/{zone}", ["SDN.Allocate"])

    // MARK: zones

    static func checkZone(_ id: String, _ zone: SDNObject, _ config: SDNConfig) throws {
        if zone.type == "evpn" || zone.type == "faucet" {
            throw APIError(
                400, "Parameter verification failed.", errors: ["type": "\(zone.type) zones need FRR and a controller; Corral does not run them yet"])
        }
        guard let allowed = zoneOptions[zone.type] else {
            throw APIError(400, "Parameter verification failed.", errors: ["type": "unknown zone type '\(zone.type)'"])
        }
        var errors: [String: String] = [:]
        for key in Set(zone.values.keys).union(zone.lists.keys) where !allowed.contains(key) {
            errors[key] = "not an option of a \(zone.type) zone"
        }
        if let ipam = zone["ipam"], config.objects["ipams"]?[ipam] == nil { errors["ipam"] = "IPAM '\(ipam)' does not exist" }
        if zone["dhcp"] != nil, zone["ipam"] == nil { errors["dhcp"] = "DHCP needs an IPAM (ipam=pve)" }
        if zone.type == "vxlan", let port = zone["vxlan-port"], !(1...65535).contains(Int(port) ?? 0) { errors["vxlan-port"] = "not a port" }
        if !errors.isEmpty { throw APIError(400, "Parameter verification failed.", errors: errors) }
    }

    static func zones(_ store: SDNStore) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /cluster/sdn/zones", description: "The SDN zones.",
                returns: .array(of: .object(["zone": .string()], additionalProperties: true)),
                permission: .anyUser, childKey: "zone",
                handler: .blocking { context in
                    let type = context.parameters["type"]?.plainText
                    return .array(
                        try store.rows(context, kind: "zones", idKey: "zone") { id, zone in
                            (type == nil || zone.type == type) && context.has(["SDN.Audit"], on: "/sdn/zones/\(id)")
                        }.map { .object($0) })
                }),
            Endpoint(
                pve: "GET /cluster/sdn/zones/{zone}", description: "One zone.", returns: .object([:], additionalProperties: true),
                permission: zoneAllocate,
                handler: .blocking { context in
                    let id = try context.require("zone")
                    guard let row = try store.rows(context, kind: "zones", idKey: "zone", filter: { key, _ in key == id }).first else {
                        throw missing("zone", id)
                    }
                    return .object(row)
                }),
            Endpoint(
                pve: "POST /cluster/sdn/zones", description: "Creates a zone (pending until applied).", permission: allocate,
                handler: .blocking { context in
                    let id = try context.require("zone")
                    try store.modify(context, kind: "zones") { config in
                        guard config.zones[id] == nil else {
                            throw APIError(400, "Parameter verification failed.", errors: ["zone": "zone '\(id)' already exists"])
                        }
                        var zone = SDNObject(type: try context.require("type"))
                        update(&zone, context, id: "zone")
                        try checkZone(id, zone, config)
                        config.objects["zones", default: [:]][id] = zone
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /cluster/sdn/zones/{zone}", description: "Changes a zone (pending until applied).", permission: zoneAllocate,
                handler: .blocking { context in
                    let id = try context.require("zone")
                    try store.modify(context, kind: "zones") { config in
                        guard var zone = config.zones[id] else { throw missing("zone", id) }
                        update(&zone, context, id: "zone")
                        try checkZone(id, zone, config)
                        config.objects["zones"]![id] = zone
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/sdn/zones/{zone}", description: "Removes a zone that has no vnets (pending until applied).",
                permission: zoneAllocate,
                handler: .blocking { context in
                    let id = try context.require("zone")
                    try store.modify(context, kind: "zones") { config in
                        guard config.zones[id] != nil else { throw missing("zone", id) }
                        if let vnet = config.vnets.first(where: { $0.value["zone"] == id }) {
                            throw APIError(400, "cannot delete zone '\(id)': vnet '\(vnet.key)' uses it")
                        }
                        config.objects["zones"]![id] = nil
                    }
                    return .null
                }),
        ]
    }

    // MARK: vnets

    static func vnets(_ store: SDNStore) -> [Endpoint] {
        [
            Endpoint(
                pve: "GET /cluster/sdn/vnets", description: "The virtual networks.",
                returns: .array(of: .object(["vnet": .string()], additionalProperties: true)),
                permission: .anyUser, childKey: "vnet",
                handler: .blocking { context in
                    .array(
                        try store.rows(context, kind: "vnets", idKey: "vnet") { id, vnet in
                            context.has(["SDN.Audit"], on: "/sdn/zones/\(vnet["zone"] ?? "")/\(id)")
                                || context.has(["SDN.Audit"], on: "/sdn/zones/\(vnet["zone"] ?? "")")
                        }.map { .object($0) })
                }),
            Endpoint(
                pve: "GET /cluster/sdn/vnets/{vnet}", description: "One vnet.", returns: .object([:], additionalProperties: true),
                permission: .anyUser,
                handler: .blocking { context in
                    let id = try context.require("vnet")
                    try need(context, "SDN.Audit", vnet: id, zone: try store.pending().vnets[id]?["zone"] ?? store.running().vnets[id]?["zone"])
                    guard let row = try store.rows(context, kind: "vnets", idKey: "vnet", filter: { key, _ in key == id }).first else {
                        throw missing("vnet", id)
                    }
                    return .object(row)
                }),
            Endpoint(
                pve: "POST /cluster/sdn/vnets", description: "Creates a vnet: a bridge of that name on every node of its zone.",
                permission: zoneAllocate,
                handler: .blocking { context in
                    let id = try context.require("vnet")
                    try store.modify(context, kind: "vnets") { config in
                        guard config.vnets[id] == nil else {
                            throw APIError(400, "Parameter verification failed.", errors: ["vnet": "vnet '\(id)' already exists"])
                        }
                        var vnet = SDNObject(type: "vnet")
                        update(&vnet, context, id: "vnet")
                        config.objects["vnets", default: [:]][id] = vnet
                    }
                    return .null
                }),
            Endpoint(
                pve: "PUT /cluster/sdn/vnets/{vnet}", description: "Changes a vnet (pending until applied).", permission: .anyUser,
                handler: .blocking { context in
                    let id = try context.require("vnet")
                    try store.modify(context, kind: "vnets") { config in
                        guard var vnet = config.vnets[id] else { throw missing("vnet", id) }
                        try need(context, "SDN.Allocate", vnet: id, zone: vnet["zone"])
                        if let zone = context.parameters["zone"]?.plainText { try need(context, "SDN.Allocate", vnet: id, zone: zone) }
                        let zone = vnet["zone"]
                        update(&vnet, context, id: "vnet")
                        if vnet["zone"] != zone, config.subnets.contains(where: { $0.value["vnet"] == id }) {
                            throw APIError(400, "Parameter verification failed.", errors: ["zone": "move or remove the vnet's subnets first"])
                        }
                        config.objects["vnets"]![id] = vnet
                    }
                    return .null
                }),
            Endpoint(
                pve: "DELETE /cluster/sdn/vnets/{vnet}", description: "Removes a vnet that has no subnets (pending until applied).",
                permission: .anyUser,
                handler: .blocking { context in
                    let id = try context.require("vnet")
                    try store.modify(context, kind: "vnets") { config in
                        guard let vnet = config.vnets[id] else { throw missing("vnet", id) }
                        try need(context, "SDN.Allocate", vnet: id, zone: vnet["zone"])
                        if let subnet = config.subnets.first(where: { $0.value["vnet"] == id }) {
                            throw APIError(400, "cannot delete vnet '\(id)': subnet '\(subnet.key)' is in it")
                        }
                        config.objects["vnets"]![id] = nil
                    }
                    return .null
                }),
        ]
    }
}
