import API
import ClusterFS
import Foundation
import Guests
import Schema

/// The node itself: status, version, time, and its tasks.
public struct NodesDomain: Domain {
    public let sampler: CPUSampler
    public let fingerprint: String?
    public let files: NodeSystemFiles
    /// Every cluster node's row (`/cluster/resources`' node rows), when the node knows its cluster.
    public let clusterNodes: (@Sendable () -> [[String: JSON]])?
    /// The other members' recent tasks.
    public let peerTasks: (@Sendable () -> [[String: JSON]])?
    /// The cluster's files (the node's `config`), when the node has them.
    public let tree: (any ConfigTree)?
    /// The node shell's tickets (apart from the guests' consoles).
    let shells = ConsoleSessions()

    public init(
        sampler: CPUSampler, fingerprint: String?, clusterNodes: (@Sendable () -> [[String: JSON]])? = nil,
        peerTasks: (@Sendable () -> [[String: JSON]])? = nil, files: NodeSystemFiles, tree: (any ConfigTree)? = nil
    ) {
        self.tree = tree
        self.peerTasks = peerTasks
        self.sampler = sampler
        self.clusterNodes = clusterNodes
        self.fingerprint = fingerprint
        self.files = files
    }

    public var name: String { "nodes" }
    public var endpoints: [Endpoint] {
        NodeEndpoints.all(sampler: sampler, fingerprint: fingerprint, clusterNodes: clusterNodes) { [files] in files.currentTimezone }
            + TaskEndpoints.all(peerTasks: peerTasks)
            + NodeSystemEndpoints.all(files: files) + NodeHardwareEndpoints.all()
            + NodeLogEndpoints.all(ownsMachine: files.ownsMachine) + (tree.map(NodeConfigEndpoints.all) ?? [])
            + NodeAdminEndpoints.all(ownsMachine: files.ownsMachine) + NodeShellEndpoints.all(sessions: shells)
            // beside resolv.conf: /etc/network/interfaces on a node that owns its machine
            + NodeNetworkEndpoints.all(interfacesFile: (files.resolvConf as NSString).deletingLastPathComponent + "/network/interfaces")
            + NodeNetworkEndpoints.write(
                interfacesFile: (files.resolvConf as NSString).deletingLastPathComponent + "/network/interfaces", sysfs: "/sys/class/net")
    }
}
