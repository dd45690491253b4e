import API
import ClusterFS
import Foundation
import Schema
import TLS

/// Where a firewall endpoint's file is and who may read or change it: the datacenter
/// (`firewall/cluster.fw`), a node (`nodes/<node>/host.fw`), a guest (`firewall/<vmid>.fw`) or an
/// SDN vnet (`sdn/firewall/<vnet>.fw`, forward rules for what crosses the vnet).
struct FirewallScope: Sendable {
    enum Kind: Sendable, Equatable { case cluster, host, guest(type: String), vnet }

    let kind: Kind

    static let cluster = FirewallScope(kind: .cluster)
    static let host = FirewallScope(kind: .host)
    static let qemu = FirewallScope(kind: .guest(type: "qemu"))
    static let lxc = FirewallScope(kind: .guest(type: "lxc"))
    static let vnet = FirewallScope(kind: .vnet)

    /// The API path the scope's endpoints hang under.
    var base: String {
        switch kind {
        case .cluster: "/cluster/firewall"
        case .host: "/nodes/{node}/firewall"
        case .guest(let type): "/nodes/{node}/\(type)/{vmid}/firewall"
        case .vnet: "/cluster/sdn/vnets/{vnet}/firewall"
        }
    }

    /// A vnet's calls are open to every user and checked in the handler against the vnet's zone (PVE's way).
    var readPermission: Permission {
        switch kind {
        case .vnet: .anyUser
        case .cluster: .privileges(path: "/", ["Sys.Audit"])
        case .host: .privileges(path: "/nodes/{node}", ["Sys.Audit"])
        case .guest: .privileges(path: "/vms/{vmid}", ["VM.Audit"])
        }
    }

    var writePermission: Permission {
        switch kind {
        case .vnet: .anyUser
        case .cluster: .privileges(path: "/", ["Sys.Modify"])
        case .host: .privileges(path: "/nodes/{node}", ["Sys.Modify"])
        case .guest: .privileges(path: "/vms/{vmid}", ["VM.Config.Network"])
        }
    }

    var isGuest: Bool { if case .guest = kind { true } else { false } }

    /// The scope's file in the tree; a guest must be this node's and of the endpoint's type.
    func file(_ context: RequestContext, tree: any ConfigTree) throws -> String {
        switch kind {
        case .cluster: return "firewall/cluster.fw"
        case .host: return "nodes/\(context.services.nodeName)/host.fw"
        case .guest(let type):
            let vmid = try context.require("vmid")
            let owner = (try? tree.read(".vmlist")).flatMap { try? JSONParser.parse($0) }?["ids"]?[vmid]
            guard owner?["node"]?.stringValue == context.services.nodeName, owner?["type"]?.stringValue == type else {
                let dir = type == "qemu" ? "qemu-server" : "lxc"
                throw FirewallError(500, "Configuration file 'nodes/\(context.services.nodeName)/\(dir)/\(vmid).conf' does not exist")
            }
            return "firewall/\(vmid).fw"
        case .vnet:
            let vnet = try context.require("vnet")
            guard let zone = Self.vnetZone(vnet, tree: tree) else { throw FirewallError(500, "sdn vnet object ID '\(vnet)' does not exist") }
            let privilege = context.endpoint.method == .GET ? "SDN.Audit" : "SDN.Allocate"
            guard context.has([privilege], on: "/sdn/zones/\(zone)/\(vnet)") else {
                throw FirewallError(403, "Permission check failed (/sdn/zones/\(zone)/\(vnet), \(privilege))")
            }
            return "sdn/firewall/\(vnet).fw"
        }
    }

    /// The zone of `vnet` as `sdn/vnets.cfg` has it, nil when there is no such vnet.
    static func vnetZone(_ vnet: String, tree: any ConfigTree) -> String? {
        guard let text = try? tree.readString("sdn/vnets.cfg"), let file = try? SectionConfig.parse(text, file: "sdn/vnets.cfg") else { return nil }
        return file[vnet].map { $0["zone"] ?? "" }
    }

    static func digest(_ text: String) -> String { Digest.sha1Hex(Array(text.utf8)) }
}
