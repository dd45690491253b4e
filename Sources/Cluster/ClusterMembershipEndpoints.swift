import API
import Access
import Foundation
import Schema
import Tasks

/// Forming, joining and leaving a cluster through the API (`pvecm` drives the same endpoints).
enum ClusterMembershipEndpoints {
    static func all(_ membership: ClusterMembership) -> [Endpoint] {
        [
            Endpoint(
                pve: "POST /cluster/config",
                description:
                    "Makes this standalone node a cluster of one: corosync's key and configuration, corosync started, corrald restarted into cluster mode.",
                returns: .string(), permission: .rootOnly,
                handler: .blocking { context in
                    let name = try context.require("clustername")
                    let address = try context.string("link0").map { try linkAddress($0, parameter: "link0") }
                    let nodeID = context.int("nodeid").map(Int.init), votes = context.int("votes").map(Int.init)
                    // what would fail is refused before a task starts
                    guard !membership.corosync.setup.forcedLocal else {
                        throw ClusterError("this node's settings force standalone mode ('local'): remove that setting to form a cluster")
                    }
                    guard try membership.clusterConfig() == nil, !membership.corosync.isConfigured else {
                        throw ClusterError("this node is already part of a cluster (a corosync configuration exists)")
                    }
                    let upid = try context.services.tasks.start(type: "clustercreate", id: name, user: context.user) { log in
                        try membership.create(name: name, address: address, nodeID: nodeID, votes: votes) { log.log($0) }
                        log.log("restarting corrald into cluster mode")
                        membership.restartDaemon()
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                pve: "GET /cluster/config/apiversion", description: "The version of the cluster-join interface this node speaks.",
                returns: .integer(), permission: ClusterConfigEndpoints.audit,
                handler: .sync { _ in JSON(ClusterMembership.apiVersion) }),
            Endpoint(
                pve: "GET /cluster/config/qdevice",
                description: "The quorum device's state as this node's corosync-qdevice reports it; empty when the cluster has none.",
                returns: .object([:], additionalProperties: true), permission: ClusterConfigEndpoints.audit,
                handler: .blocking { _ in
                    guard let config = try membership.clusterConfig() else { throw ClusterError("this node is not part of a cluster") }
                    guard config.qdevice != nil else { return .object([:]) }
                    return .object(try membership.qdevice.status().mapValues { .string($0) })
                }),
            Endpoint(
                .POST, "/cluster/config/qdevice", name: "qdevice_setup",
                description:
                    "Beyond PVE (pvecm qdevice setup without SSH): makes the witness's certificates, names the witness in corosync.conf and starts corosync-qdevice on every node. Answers the witness's NSS database (base64 of a gzipped tar) for /etc/corosync/qnetd/nssdb on the qnetd host.",
                parameters: [
                    "address": Schema.string(maxLength: 255).described("The qnetd host's address or name, as the nodes reach it."),
                    "port": Schema.integer(minimum: 1, maximum: 65535).optional().described("qnetd's port (5403 by default)."),
                    "tie_breaker": Schema.string(pattern: "(lowest|highest|[0-9]+)").optional().described("Which half of a split wins a tie."),
                    "force": Schema.boolean().optional().described("Replace a configured QDevice; allow an odd number of nodes."),
                ],
                returns: .object(["bundle": .string(), "cluster": .string()]), permission: .rootOnly, protected: true,
                handler: .blocking { context in
                    let bundle = try membership.setupQDevice(
                        host: try context.require("address"), port: context.int("port").map(Int.init), tieBreaker: context.string("tie_breaker"),
                        force: context.bool("force") ?? false, log: { _ in })
                    return [
                        "bundle": .string(Data(bundle).base64EncodedString()),
                        "cluster": .string(try membership.clusterConfig()?.clusterName ?? ""),
                    ]
                }),
            Endpoint(
                .DELETE, "/cluster/config/qdevice", name: "qdevice_remove",
                description: "Beyond PVE (pvecm qdevice remove): takes the witness out of corosync.conf and stops corosync-qdevice on every node.",
                permission: .rootOnly, protected: true,
                handler: .blocking { _ in
                    try membership.removeQDevice(log: { _ in })
                    return .null
                }),
            addNode(membership),
            Endpoint(
                pve: "DELETE /cluster/config/nodes/{node}",
                description: "Removes a node from the cluster (it must have no guests); its directory goes too, so the host can join again.",
                permission: .rootOnly,
                handler: .blocking { context in
                    try membership.removeNode(try context.require("node"))
                    return .null
                }),
            Endpoint(
                pve: "POST /cluster/config/join",
                description:
                    "Joins the cluster of the member at `hostname`, whose certificate must have `fingerprint`. `password` is root@pam's on the member, or a join token made there (beyond PVE: no password travels). A node with guests cannot join; its own configuration is set aside, not destroyed.",
                returns: .string(), permission: .rootOnly,
                handler: .blocking { context in
                    var request = ClusterMembership.JoinRequest(
                        host: try context.require("hostname"), fingerprint: try context.require("fingerprint"),
                        password: try context.require("password"))
                    request.address = try context.string("link0").map { try linkAddress($0, parameter: "link0") }
                    request.nodeID = context.int("nodeid").map(Int.init)
                    request.votes = context.int("votes").map(Int.init)
                    request.force = context.bool("force") ?? false
                    try membership.checkJoin(request)
                    let join = request
                    let upid = try context.services.tasks.start(type: "clusterjoin", id: "", user: context.user) { log in
                        try membership.join(join) { log.log($0) }
                        membership.restartDaemon()
                    }
                    return .string(upid.description)
                }),
            Endpoint(
                .POST, "/cluster/config/join-token", name: "join_token",
                description: "Beyond PVE: a one-time token a node joins with instead of root's password; it expires after `ttl` seconds.",
                parameters: ["ttl": Schema.integer(minimum: 60, maximum: 7 * 86400).defaulting(to: 3600)],
                returns: .object(["token": .string(), "expires": .integer()]), permission: .privileges(path: "/", ["Sys.Modify"]), protected: true,
                handler: .blocking { context in
                    guard try membership.clusterConfig() != nil else { throw ClusterError("this node is not part of a cluster: create one first") }
                    guard let access = membership.access else { throw ClusterError("access control is not available here") }
                    let made = try access.makeJoinToken(ttl: Int(context.int("ttl") ?? 3600))
                    return ["token": .string(made.token), "expires": JSON(made.expires)]
                }),
        ]
    }

    /// A member adds a node (called by the joining node, as root: with root's ticket, or with a
    /// one-time join token, which the authenticator accepts for this call alone).
    static func addNode(_ membership: ClusterMembership) -> Endpoint {
        Endpoint(
            pve: "POST /cluster/config/nodes/{node}",
            description: "Adds a node to the cluster's corosync configuration and answers with the key and configuration it joins with.",
            returns: .object(["corosync_authkey": .string(), "corosync_conf": .string(), "warnings": .array(of: .string())]),
            permission: .rootOnly,
            handler: .blocking { context in
                let node = try context.require("node")
                var address = try context.string("link0").map { try linkAddress($0, parameter: "link0") } ?? context.string("new_node_ip")
                if address == nil {
                    // the joining node's address as this member sees it
                    let remote = context.remoteAddress
                    address = remote.hasPrefix("::ffff:") ? String(remote.dropFirst(7)) : remote
                }
                guard let address, !address.isEmpty else { throw APIError.parameters(["link0": "the joining node's address is needed"]) }
                let added = try membership.addNode(
                    node, address: address, nodeID: context.int("nodeid").map(Int.init), votes: Int(context.int("votes") ?? 1),
                    force: context.bool("force") ?? false)
                return [
                    "corosync_authkey": .string(Data(added.key).base64EncodedString()), "corosync_conf": .string(added.config),
                    "warnings": .array([]),
                ]
            })
    }

    /// The address of a `link[n]` value (`ADDRESS[,priority=N]` or `address=ADDRESS,…`).
    static func linkAddress(_ value: String, parameter: String) throws -> String {
        for part in value.split(separator: ",") {
            if part.hasPrefix("address=") { return String(part.dropFirst(8)) }
            if !part.contains("=") { return String(part) }
        }
        throw APIError.parameters([parameter: "no address in '\(value)'"])
    }
}
