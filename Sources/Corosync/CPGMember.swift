/// One process in a CPG group: the corosync node it runs on and its pid there. The same node may
/// appear twice (two processes), so replication keys on both.
public struct CPGMember: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let nodeID: UInt32
    public let pid: UInt32

    public init(nodeID: UInt32, pid: UInt32) {
        self.nodeID = nodeID
        self.pid = pid
    }

    public static func < (a: CPGMember, b: CPGMember) -> Bool { (a.nodeID, a.pid) < (b.nodeID, b.pid) }
    public var description: String { "\(nodeID)/\(pid)" }
}

/// A node as corosync.conf lists it (read through cmap).
public struct ClusterNode: Equatable, Sendable {
    public let nodeID: UInt32
    public let name: String
    public let address: String

    public init(nodeID: UInt32, name: String, address: String) {
        self.nodeID = nodeID
        self.name = name
        self.address = address
    }
}

/// What the corosync connection reports. Every call comes on the connection's own thread, in the
/// order corosync delivered it; a listener may send from inside a call, but must not wait there
/// for its own message (that delivery would come on this same thread).
public protocol CorosyncListener: AnyObject, Sendable {
    /// Connected (again): the groups are joined, membership callbacks follow.
    func corosyncConnected(localNodeID: UInt32, localPID: UInt32, nodes: [ClusterNode], clusterName: String)
    /// The connection to corosync is gone; reconnecting with backoff.
    func corosyncDisconnected()
    func corosyncQuorumChanged(_ quorate: Bool)
    func corosyncDelivered(group: String, from: CPGMember, message: [UInt8])
    func corosyncMembershipChanged(group: String, members: [CPGMember], left: [CPGMember], joined: [CPGMember])
    /// The configured nodes changed (corosync reloaded its configuration); told before the
    /// membership or quorum change that follows from it.
    func corosyncNodesChanged(_ nodes: [ClusterNode], clusterName: String)
}

extension CorosyncListener {
    public func corosyncNodesChanged(_ nodes: [ClusterNode], clusterName: String) {}
}
