import Glibc

/// What a node tells the others when the membership changes: enough to pick the most recent tree
/// and to find, entry by entry, what differs from it.
struct SyncState: Equatable, Sendable {
    var version: UInt64
    var checksum: UInt64
    var index: [UInt64: UInt64]  // inode → entry digest
}

extension ClusterFS {
    func syncState() -> SyncState {
        locked { SyncState(version: memdb.version, checksum: memdb.checksum, index: memdb.index) }
    }

    var checksumValue: UInt64 { locked { memdb.checksum } }

    func entries(_ inodes: [UInt64]) -> [TreeEntry] {
        locked { inodes.compactMap { memdb.entries[$0] } }
    }

    /// Makes this tree the leader's: entries the leader lacks are dropped, the entries it sent
    /// replace ours, all in one transaction. Returns the changes for observers.
    func applySync(leaderInodes: [UInt64], entries incoming: [TreeEntry], version: UInt64) throws -> [ClusterFSChange] {
        try locked {
            let keep = Set(leaderInodes)
            let deletes = memdb.entries.keys.filter { !keep.contains($0) }
            var changes = deletes.compactMap { path(of: $0) }.map { ClusterFSChange(path: $0, kind: .deleted, version: version) }
            try memdb.commit(upserts: incoming, deletes: deletes, newVersion: version)
            changes += incoming.compactMap { path(of: $0.inode) }.map { ClusterFSChange(path: $0, kind: .written, version: version) }
            return changes
        }
    }

    /// The path of an entry; called with the lock held.
    private func path(of inode: UInt64) -> String? {
        var parts: [String] = []
        var current = inode
        while current != MemDB.rootInode {
            guard let entry = memdb.entries[current], parts.count < 256 else { return nil }
            parts.append(entry.name)
            current = entry.parent
        }
        return parts.reversed().joined(separator: "/")
    }

    /// Writes straight into this node's database, bypassing replication: only for tests that need
    /// a diverged node.
    func writeBypassingReplication(_ path: String, _ data: [UInt8]) throws {
        let parts = try Self.components(path)
        _ = try apply(.put(path: parts, data: data, exclusive: false, time: UInt32(time(nil))), writer: nodeID)
    }
}
