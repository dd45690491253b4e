import API
import ClusterFS
import Foundation
import Schema
import TLS

/// Where a firewall endpoint's file is and who may read or change it: the datacenter
/// (`firewall/cluster.fw`), a node (`nodes/<node>/host.fw`) or a guest (`firewall/<vmid>.fw`).
struct FirewallScope: Sendable {
    enum Kind: Sendable, Equatable { case cluster, host, guest(type: String) }

    let kind: Kind

    static let cluster = FirewallScope(kind: .cluster)
    static let host = FirewallScope(kind: .host)
    static let qemu = FirewallScope(kind: .guest(type: "qemu"))
    static let lxc = FirewallScope(kind: .guest(type: "lxc"))

    /// The API path the scope's endpoints hang under.
    var base: String {
        switch kind {
        case .cluster: "/cluster/firewall"
        case .host: "/nodes/{node}/firewall"
        case .guest(let type): "/nodes/{node}/\(type)/{vmid}/firewall"
        }
    }

    var readPermission: Permission {
        switch kind {
        case .cluster: .privileges(path: "/", ["Sys.Audit"])
        case .host: .privileges(path: "/nodes/{node}", ["Sys.Audit"])
        case .guest: .privileges(path: "/vms/{vmid}", ["VM.Audit"])
        }
    }

    var writePermission: Permission {
        switch kind {
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
        }
    }

    static func digest(_ text: String) -> String { Digest.sha1Hex(Array(text.utf8)) }
}
