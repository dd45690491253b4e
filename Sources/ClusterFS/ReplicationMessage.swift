import Corosync

/// The messages of the cluster-filesystem group. `round` is the membership a sync message belongs
/// to; a node ignores sync messages of any other membership.
enum ReplicationMessage: Equatable, Sendable {
    /// A change made on the sender; `id` lets the sender find its own change on delivery.
    case operation(id: UInt64, ClusterFSOperation)
    /// A node's tree after a membership change.
    case state(round: [CPGMember], nodeName: String, SyncState)
    /// The leader's answer: its whole index (what to keep) and the entries others lack or differ in.
    case update(round: [CPGMember], version: UInt64, checksum: UInt64, inodes: [UInt64], entries: [TreeEntry])
    /// Compare checksums now (sent by the lowest member from time to time).
    case verify(nonce: UInt64)
    case checksum(nonce: UInt64, value: UInt64)

    func encoded() -> [UInt8] {
        var w = WireWriter()
        func members(_ list: [CPGMember]) {
            w.u32(UInt32(list.count))
            for m in list { w.u32(m.nodeID); w.u32(m.pid) }
        }
        switch self {
        case .operation(let id, let op):
            w.u8(1); w.u64(id); op.encode(into: &w)
        case .state(let round, let nodeName, let state):
            w.u8(2); members(round); w.string(nodeName); w.u64(state.version); w.u64(state.checksum)
            w.u32(UInt32(state.index.count))
            for (inode, digest) in state.index { w.u64(inode); w.u64(digest) }
        case .update(let round, let version, let checksum, let inodes, let entries):
            w.u8(3); members(round); w.u64(version); w.u64(checksum)
            w.u32(UInt32(inodes.count))
            for inode in inodes { w.u64(inode) }
            w.u32(UInt32(entries.count))
            for e in entries {
                w.u64(e.inode); w.u64(e.parent); w.u64(e.version); w.u32(e.writer); w.u32(e.mtime)
                w.u8(UInt8(e.kind.rawValue)); w.string(e.name); w.data(e.data)
            }
        case .verify(let nonce):
            w.u8(4); w.u64(nonce)
        case .checksum(let nonce, let value):
            w.u8(5); w.u64(nonce); w.u64(value)
        }
        return w.bytes
    }

    init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        func members() throws(WireError) -> [CPGMember] {
            let n = try r.count(elementSize: 8)
            return try (0..<n).map { _ throws(WireError) in CPGMember(nodeID: try r.u32(), pid: try r.u32()) }
        }
        switch try r.u8() {
        case 1:
            self = .operation(id: try r.u64(), try ClusterFSOperation(from: &r))
        case 2:
            let round = try members(), name = try r.string(), version = try r.u64(), checksum = try r.u64()
            var index: [UInt64: UInt64] = [:]
            let n = try r.count(elementSize: 16)
            index.reserveCapacity(n)
            for _ in 0..<n { index[try r.u64()] = try r.u64() }
            self = .state(round: round, nodeName: name, SyncState(version: version, checksum: checksum, index: index))
        case 3:
            let round = try members(), version = try r.u64(), checksum = try r.u64()
            let n = try r.count(elementSize: 8)
            let inodes = try (0..<n).map { _ throws(WireError) in try r.u64() }
            let m = try r.count(elementSize: 33)
            var entries: [TreeEntry] = []
            for _ in 0..<m {
                let inode = try r.u64(), parent = try r.u64(), version = try r.u64(), writer = try r.u32(), mtime = try r.u32()
                guard let kind = TreeEntry.Kind(rawValue: Int64(try r.u8())) else { throw WireError() }
                entries.append(
                    TreeEntry(
                        inode: inode, parent: parent, version: version, writer: writer, mtime: mtime, kind: kind,
                        name: try r.string(), data: try r.data()))
            }
            self = .update(round: round, version: version, checksum: checksum, inodes: inodes, entries: entries)
        case 4:
            self = .verify(nonce: try r.u64())
        case 5:
            self = .checksum(nonce: try r.u64(), value: try r.u64())
        default:
            throw WireError()
        }
        guard r.atEnd else { throw WireError() }
    }
}
