import API
import ClusterFS
import Foundation
import Schema
import TLS

/// `/cluster/config`: the cluster's corosync configuration as ClusterFS holds it (`corosync.conf`),
/// read side. A standalone node has none: it lists no nodes and has no join information.
enum ClusterConfigEndpoints {
    static let audit = Permission.privileges(path: "/", ["Sys.Audit"])

    static func all(tree: any ConfigTree) -> [Endpoint] {
        [
            .directory("/cluster/config", description: "The cluster's configuration.", permission: audit),
            Endpoint(
                pve: "GET /cluster/config/nodes", description: "The nodes of corosync.conf's nodelist.",
                returns: .array(of: .object(["node": .string()], additionalProperties: true)), permission: audit, childKey: "node",
                handler: .blocking { _ in
                    guard let config = try load(tree) else { return .array([]) }
                    return .array(
                        config.nodes.map { node in
                            var item: [String: JSON] = ["node": .string(node.name)]
                            for (key, value) in node.values where key != "name" { item[key] = Int(value).map { JSON($0) } ?? .string(value) }
                            return .object(item)
                        })
                }),
            Endpoint(
                pve: "GET /cluster/config/totem", description: "corosync.conf's totem section.",
                returns: .object([:], additionalProperties: true), permission: audit,
                handler: .blocking { _ in .object(try load(tree).map(totem) ?? [:]) }),
            Endpoint(
                pve: "GET /cluster/config/join",
                description: "What a node needs to join this cluster: its members' addresses and certificate fingerprints.",
                returns: .object([:], additionalProperties: true), permission: audit,
                handler: .blocking { context in
                    guard let text = try? tree.readString("corosync.conf"), let config = try? CorosyncConfig.parse(text), !config.nodes.isEmpty else {
                        throw APIError(500, "this node is not in a cluster: there is no join information")
                    }
                    let nodes: [JSON] = config.nodes.map { node in
                        var item: [String: JSON] = [
                            "name": .string(node.name), "nodeid": JSON(node.nodeID), "quorum_votes": JSON(node.votes),
                        ]
                        if let address = node.links[0] {
                            item["ring0_addr"] = .string(address)
                            item["pve_addr"] = .string(address)
                        }
                        if let pem = try? tree.readString("nodes/\(node.name)/pve-ssl.pem"),
                            let fingerprint = try? CertificateAuthority.fingerprint(pemCertificate: pem)
                        {
                            item["pve_fp"] = .string(fingerprint)
                        }
                        return .object(item)
                    }
                    return [
                        "nodelist": .array(nodes), "preferred_node": .string(context.services.nodeName), "totem": .object(totem(config)),
                        "config_digest": .string(Digest.sha1Hex(Array(text.utf8))),
                    ]
                }),
        ]
    }

    /// The parsed `corosync.conf`, or nil on a node that has none.
    static func load(_ tree: any ConfigTree) throws -> CorosyncConfig? {
        guard let text = try? tree.readString("corosync.conf") else { return nil }
        do { return try CorosyncConfig.parse(text) } catch { throw APIError(500, "\(error)") }
    }

    /// The totem values, with its `interface` sections by link number (as PVE reports them).
    static func totem(_ config: CorosyncConfig) -> [String: JSON] {
        var out: [String: JSON] = config.values(of: "totem").mapValues { Int($0).map { JSON($0) } ?? .string($0) }
        var interfaces: [String: JSON] = [:]
        for case .section("totem", let items) in config.items {
            for case .section("interface", let fields) in items {
                var values: [String: JSON] = [:]
                for case .value(let key, let value) in fields { values[key] = Int(value).map { JSON($0) } ?? .string(value) }
                interfaces[values["linknumber"]?.plainText ?? "0"] = .object(values)
            }
        }
        if !interfaces.isEmpty { out["interface"] = .object(interfaces) }
        return out
    }
}
