import Corosync
import Dispatch
import Foundation

@testable import ClusterFS

/// A stand-in for a CPG group in unit tests: one serial queue delivers every message and every
/// membership change to all current members in one order, as corosync does. Several groups model a
/// partition. The real path is tested against corosync in the integration tests.
final class FakeGroup: @unchecked Sendable {
    private let queue: DispatchQueue
    private let lock = NSLock()
    private var members: [FakeNode] = []

    init(_ name: String) { queue = DispatchQueue(label: "fake-cpg-\(name)") }

    func send(from node: FakeNode, _ bytes: [UInt8]) {
        queue.async { [self] in
            let current = lock.withLock { members }
            guard current.contains(where: { $0 === node }) else { return }
            for member in current { member.replicator.delivered(from: node.member, bytes) }
        }
    }

    /// `nodes` join (leaving whatever group they were in); every member sees the new membership.
    /// As with corosync's virtual synchrony, a node leaving gets everything sent to its old group
    /// before it left, and nothing after.
    func join(_ nodes: [FakeNode]) {
        for node in nodes {
            if let old = node.group {
                old.leave(node)
                old.drain()
            }
            node.group = self
        }
        queue.async { [self] in
            lock.withLock { members += nodes }
            announceNow()
        }
    }

    func leave(_ node: FakeNode) {
        queue.async { [self] in
            lock.withLock { members.removeAll { $0 === node } }
            announceNow()
        }
    }

    private func announceNow() {
        let current = lock.withLock { members }
        let list = current.map(\.member)
        for member in current { member.replicator.membershipChanged(list) }
    }

    /// Waits until everything queued so far was delivered.
    func drain() { queue.sync {} }
}

final class FakeNode: @unchecked Sendable {
    let fs: ClusterFS
    let replicator: Replicator
    let member: CPGMember
    private let lock = NSLock()
    private var _group: FakeGroup?
    var group: FakeGroup? {
        get { lock.withLock { _group } }
        set { lock.withLock { _group = newValue } }
    }

    init(id: UInt32, dir: String, configuredNodes: Int) throws {
        fs = try ClusterFS(databasePath: "\(dir)/n\(id).db", nodeName: "n\(id)", nodeID: id, local: false)
        member = CPGMember(nodeID: id, pid: 1000 + id)
        replicator = Replicator(fs: fs)
        replicator.submitTimeout = 10
        let nodes = (1...UInt32(configuredNodes)).map { ClusterNode(nodeID: $0, name: "n\($0)", address: "10.0.0.\($0)") }
        replicator.setTransmit { [unowned self] bytes in
            guard let group = self.group else { throw ClusterFSError(EACCES, "not in a group") }
            group.send(from: self, bytes)
        }
        let replicator = replicator
        fs.locked { fs.replicator = replicator }
        fs.isQuorate = { replicator.canWrite }
        replicator.connected(local: member, nodes: nodes, clusterName: "test", witness: false)
        replicator.quorumChanged(true)
    }
}

/// Polls `condition` for up to `seconds`.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
