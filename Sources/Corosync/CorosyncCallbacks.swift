internal import CCPG
internal import CQuorum

// Plain C callbacks for libcpg and libquorum. The context pointer is the CorosyncConnection; they
// run inside cpg_dispatch/quorum_dispatch on the connection's thread.

func corralCPGDeliver(
    _ handle: cpg_handle_t, _ group: UnsafePointer<cpg_name>?, _ nodeID: UInt32, _ pid: UInt32,
    _ message: UnsafeMutableRawPointer?, _ length: Int
) {
    guard let connection = CorosyncConnection.from(cpg: handle), let group else { return }
    connection.delivered(
        group: CorosyncConnection.groupName(group), from: CPGMember(nodeID: nodeID, pid: pid),
        fragment: UnsafeRawBufferPointer(start: message, count: message == nil ? 0 : length))
}

func corralCPGConfchg(
    _ handle: cpg_handle_t, _ group: UnsafePointer<cpg_name>?,
    _ members: UnsafePointer<cpg_address>?, _ memberCount: Int,
    _ left: UnsafePointer<cpg_address>?, _ leftCount: Int,
    _ joined: UnsafePointer<cpg_address>?, _ joinedCount: Int
) {
    guard let connection = CorosyncConnection.from(cpg: handle), let group else { return }
    func list(_ p: UnsafePointer<cpg_address>?, _ n: Int) -> [CPGMember] {
        guard let p else { return [] }
        return (0..<n).map { CPGMember(nodeID: p[$0].nodeid, pid: p[$0].pid) }
    }
    connection.membershipChanged(
        group: CorosyncConnection.groupName(group), members: list(members, memberCount), left: list(left, leftCount),
        joined: list(joined, joinedCount))
}

func corralQuorumNotify(_ handle: quorum_handle_t, _ quorate: UInt32, _ ringSeq: UInt64, _ count: UInt32, _ view: UnsafeMutablePointer<UInt32>?) {
    CorosyncConnection.from(quorum: handle)?.quorumChanged(quorate != 0)
}
