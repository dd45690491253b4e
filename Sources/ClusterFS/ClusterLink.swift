import Corosync
import Dispatch
import Foundation
import Glibc

/// Cluster mode: ties a ClusterFS and its status channel to the local corosync. Two CPG groups:
/// one for the tree (replicated, persisted), one for the status channel (neither).
public final class ClusterLink: CorosyncListener, @unchecked Sendable {
    public static let treeGroup = "corral_dcdb_v1"
    public static let statusGroup = "corral_kvstore_v1"

    public let fs: ClusterFS
    public let status: StatusChannel
    let replicator: Replicator
    private var connection: CorosyncConnection!
    private let verifyTimer: any DispatchSourceTimer

    /// Joins; the connection thread starts at once and keeps reconnecting. `verifyInterval` is how
    /// often the lowest member asks for a checksum comparison.
    public init(fs: ClusterFS, verifyInterval: Double = 60, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.fs = fs
        status = fs.status
        replicator = Replicator(fs: fs, log: log)
        verifyTimer = DispatchSource.makeTimerSource(queue: .global())
        let connection = CorosyncConnection(groups: [Self.treeGroup, Self.statusGroup], listener: self)
        self.connection = connection
        let replicator = replicator
        replicator.setTransmit { bytes in try connection.send(group: Self.treeGroup, bytes) }
        status.transmit = { bytes in try connection.send(group: Self.statusGroup, bytes) }
        fs.locked { fs.replicator = replicator }
        fs.isQuorate = { replicator.canWrite }
        fs.membersProvider = { [weak self] in self?.membersJSON() }
        fs.replicationStatusProvider = { [weak replicator] in replicator?.statusFields ?? "\"mode\": \"stopped\"" }
        verifyTimer.schedule(deadline: .now() + verifyInterval, repeating: verifyInterval)
        verifyTimer.setEventHandler { replicator.verifyIfLeader() }
        verifyTimer.resume()
        connection.start()
    }

    /// Leaves the groups; writes fail from now on.
    public func stop() {
        verifyTimer.cancel()
        connection.stop()
        replicator.disconnected()
    }

    /// Whether this node has joined and agrees with the group.
    public var isSynchronised: Bool { replicator.mode == .normal }

    /// Waits until this node is synchronised and writes are allowed (its own directories exist).
    public func waitUntilWritable(timeout: Double) -> Bool {
        let deadline = DispatchTime.now() + timeout
        // the node's directories and the lock directory exist (cluster locks are mkdirs in priv/lock)
        func ready() -> Bool {
            isSynchronised && replicator.canWrite && (try? fs.stat("nodes/\(fs.nodeName)/priv")) != nil && (try? fs.stat("priv/lock")) != nil
        }
        while DispatchTime.now() < deadline {
            if ready() { return true }
            usleep(20_000)
        }
        return ready()
    }

    // MARK: CorosyncListener

    public func corosyncConnected(localNodeID: UInt32, localPID: UInt32, nodes: [ClusterNode], clusterName: String) {
        let me = CPGMember(nodeID: localNodeID, pid: localPID)
        replicator.connected(local: me, nodes: nodes, clusterName: clusterName, witness: CorosyncConnection.hasQuorumDevice())
        status.connected(local: me)
    }

    public func corosyncDisconnected() {
        replicator.disconnected()
        status.disconnected()
    }

    public func corosyncQuorumChanged(_ quorate: Bool) { replicator.quorumChanged(quorate) }

    public func corosyncNodesChanged(_ nodes: [ClusterNode], clusterName: String) {
        replicator.nodesChanged(nodes, clusterName: clusterName, witness: CorosyncConnection.hasQuorumDevice())
    }

    public func corosyncDelivered(group: String, from: CPGMember, message: [UInt8]) {
        if group == Self.treeGroup { replicator.delivered(from: from, message) } else { status.delivered(from: from, message) }
    }

    public func corosyncMembershipChanged(group: String, members: [CPGMember], left: [CPGMember], joined: [CPGMember]) {
        if group == Self.treeGroup { replicator.membershipChanged(members) } else { status.membershipChanged(members, joined: joined) }
    }

    // MARK: .members

    func membersJSON() -> String {
        let s = replicator.status
        let online = Set(s.members.map(\.nodeID))
        var lines: [String] = []
        for node in s.nodes.sorted(by: { $0.nodeID < $1.nodeID }) {
            lines.append(
                "  \"\(node.name)\": { \"id\": \(node.nodeID), \"online\": \(online.contains(node.nodeID) ? 1 : 0), \"ip\": \"\(node.address)\"}")
        }
        // the cluster's version is corosync.conf's config_version
        let text = (try? fs.read("corosync.conf")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let version =
            text.split(separator: "\n").lazy.compactMap { line -> Int? in
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "config_version" else { return nil }
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }.first ?? 1
        return
            "{\n\"nodename\": \"\(fs.nodeName)\",\n\"version\": \(s.syncs),\n\"cluster\": { \"name\": \"\(s.clusterName)\", \"version\": \(version), \"nodes\": \(s.nodes.count), \"quorate\": \(s.quorate ? 1 : 0) },\n\"nodelist\": {\n"
            + lines.joined(separator: ",\n") + "\n  }\n}\n"
    }
}
