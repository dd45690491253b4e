import CQuorum
import CCPG

/// A libquorum handle. The dispatch thread and CPG groups arrive with the cluster-filesystem issue.
public final class QuorumClient: @unchecked Sendable {
    private var handle: quorum_handle_t = 0

    /// Connects to the local corosync. Stands for `quorum_initialize`.
    public init() throws {
        var type: UInt32 = 0
        let rc = quorum_initialize(&handle, nil, &type)
        guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "quorum_initialize") }
    }

    deinit { quorum_finalize(handle) }

    /// Whether this node is part of a quorate partition. Stands for `quorum_getquorate`.
    public func isQuorate() throws -> Bool {
        var quorate: Int32 = 0
        let rc = quorum_getquorate(handle, &quorate)
        guard rc == CS_OK else { throw CorosyncError(code: rc.rawValue, function: "quorum_getquorate") }
        return quorate != 0
    }
}
