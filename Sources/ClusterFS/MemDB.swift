import Glibc
import SQLite

/// One node of the tree, as pmxcfs stores it.
public struct TreeEntry: Equatable, Sendable {
    public enum Kind: Int64, Sendable { case directory = 4, file = 8 }  // dirent DT_DIR / DT_REG, as pmxcfs

    public var inode: UInt64
    public var parent: UInt64
    public var version: UInt64
    public var writer: UInt32
    public var mtime: UInt32
    public var kind: Kind
    public var name: String
    public var data: [UInt8]

    /// A hash over every field (FNV-1a): what nodes compare entry by entry when they synchronise.
    var digest: UInt64 {
        var hash = FNV()
        hash.add(inode); hash.add(parent); hash.add(version); hash.add(UInt64(writer)); hash.add(UInt64(mtime))
        hash.add(UInt64(kind.rawValue)); hash.add(name.utf8); hash.add(UInt64(name.utf8.count)); hash.add(data)
        return hash.value
    }
}

/// FNV-1a, 64 bit: stable across processes and machines (Swift's hashValue is seeded per process).
struct FNV {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
    }
    mutating func add(_ number: UInt64) { withUnsafeBytes(of: number.littleEndian) { add($0) } }
}

/// The whole tree in memory, persisted in SQLite in pmxcfs's table shape
/// (`tree(inode, parent, version, writer, mtime, type, name, data)`, `__version__` row at inode 0, the root
/// directory implicit as inode 0), so a PVE node's `config.db` opens here. Reads never touch SQLite;
/// every change is one transaction, applied to memory only after it committed. Not thread-safe: the
/// ClusterFS type serialises access.
final class MemDB {
    static let rootInode: UInt64 = 0
    private let db: SQLiteDatabase
    private(set) var entries: [UInt64: TreeEntry] = [:]
    private var children: [UInt64: [String: UInt64]] = [:]
    private(set) var version: UInt64 = 0
    /// XOR of every entry's digest, kept current on each commit, so comparing trees costs nothing.
    private(set) var treeDigest: UInt64 = 0
    private var digests: [UInt64: UInt64] = [:]

    init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS tree (
              inode INTEGER PRIMARY KEY NOT NULL,
              parent INTEGER NOT NULL CHECK(typeof(parent)=='integer'),
              version INTEGER NOT NULL CHECK(typeof(version)=='integer'),
              writer INTEGER NOT NULL CHECK(typeof(writer)=='integer'),
              mtime INTEGER NOT NULL CHECK(typeof(mtime)=='integer'),
              type INTEGER NOT NULL CHECK(typeof(type)=='integer'),
              name TEXT NOT NULL,
              data BLOB);
            """)
        try load()
    }

    private func load() throws {
        children[Self.rootInode] = [:]
        var pending: [TreeEntry] = []
        for row in try db.query("SELECT inode, parent, version, writer, mtime, type, name, data FROM tree") {
            guard case .integer(let inode) = row[0], case .integer(let parent) = row[1], case .integer(let version) = row[2],
                case .integer(let writer) = row[3], case .integer(let mtime) = row[4], case .integer(let type) = row[5],
                case .text(let name) = row[6]
            else { throw ClusterFSError(EIO, "config database has a malformed row") }
            if inode == 0 {
                self.version = UInt64(version)  // the __version__ row
                continue
            }
            var data: [UInt8] = []
            if case .blob(let bytes) = row[7] { data = bytes } else if case .text(let text) = row[7] { data = Array(text.utf8) }
            guard let kind = TreeEntry.Kind(rawValue: type) else { throw ClusterFSError(EIO, "config database has an entry of unknown type \(type)") }
            pending.append(
                TreeEntry(
                    inode: UInt64(inode), parent: UInt64(parent), version: UInt64(version), writer: UInt32(truncatingIfNeeded: writer),
                    mtime: UInt32(truncatingIfNeeded: mtime), kind: kind, name: name, data: data))
        }
        for entry in pending {
            entries[entry.inode] = entry
            let digest = entry.digest
            digests[entry.inode] = digest
            treeDigest ^= digest
            if entry.kind == .directory, children[entry.inode] == nil { children[entry.inode] = [:] }
        }
        for entry in pending {
            guard entry.parent == Self.rootInode || entries[entry.parent]?.kind == .directory else {
                throw ClusterFSError(EIO, "config database is inconsistent: '\(entry.name)' has no parent directory \(entry.parent)")
            }
            children[entry.parent, default: [:]][entry.name] = entry.inode
        }
        if version == 0 { try db.query("INSERT OR REPLACE INTO tree VALUES (0, 0, 0, 0, ?, 8, '__version__', NULL)", [.integer(Int64(time(nil)))]) }
    }

    // MARK: reads

    func lookup(_ components: [String]) -> TreeEntry? {
        var inode = Self.rootInode
        for name in components {
            guard let next = children[inode]?[name] else { return nil }
            inode = next
        }
        return inode == Self.rootInode ? rootEntry : entries[inode]
    }

    var rootEntry: TreeEntry {
        TreeEntry(inode: 0, parent: 0, version: version, writer: 0, mtime: 0, kind: .directory, name: "", data: [])
    }

    func list(_ inode: UInt64) -> [TreeEntry] {
        (children[inode] ?? [:]).values.compactMap { entries[$0] }.sorted { $0.name < $1.name }
    }

    func childInode(_ parent: UInt64, _ name: String) -> UInt64? { children[parent]?[name] }

    // MARK: changes (each one SQLite transaction, then memory)

    /// Applies a set of row changes atomically: `upserts` are written whole, `deletes` removed.
    func commit(upserts: [TreeEntry], deletes: [UInt64], newVersion: UInt64) throws {
        try db.query("BEGIN IMMEDIATE")
        do {
            for inode in deletes { try db.query("DELETE FROM tree WHERE inode = ?", [.integer(Int64(inode))]) }
            for e in upserts {
                try db.query(
                    "INSERT OR REPLACE INTO tree VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        .integer(Int64(e.inode)), .integer(Int64(e.parent)), .integer(Int64(e.version)), .integer(Int64(e.writer)),
                        .integer(Int64(e.mtime)), .integer(e.kind.rawValue), .text(e.name), e.kind == .file ? .blob(e.data) : .null,
                    ])
            }
            try db.query("UPDATE tree SET version = ?, mtime = ? WHERE inode = 0", [.integer(Int64(newVersion)), .integer(Int64(time(nil)))])
            try db.query("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw ClusterFSError(EIO, "config database write failed: \(error)")
        }
        // a name is only unlinked if it still points at this inode: a sync may move one entry away
        // from a name and give the name to another in the same batch, in any order
        for inode in deletes {
            if let old = entries.removeValue(forKey: inode) {
                treeDigest ^= digests.removeValue(forKey: inode) ?? old.digest
                if children[old.parent]?[old.name] == inode { children[old.parent]?[old.name] = nil }
                children[inode] = nil
            }
        }
        for e in upserts {
            if let old = entries[e.inode] {
                treeDigest ^= digests[e.inode] ?? old.digest
                if old.parent != e.parent || old.name != e.name, children[old.parent]?[old.name] == e.inode {
                    children[old.parent]?[old.name] = nil
                }
            }
            let digest = e.digest
            digests[e.inode] = digest
            treeDigest ^= digest
            entries[e.inode] = e
            children[e.parent, default: [:]][e.name] = e.inode
            if e.kind == .directory, children[e.inode] == nil { children[e.inode] = [:] }
        }
        version = newVersion
    }

    /// What two nodes compare to detect divergence: the global version and every entry.
    var checksum: UInt64 {
        var hash = FNV()
        hash.add(version)
        hash.add(treeDigest)
        hash.add(UInt64(entries.count))
        return hash.value
    }

    /// (inode, digest) of every entry: the index nodes exchange to find what differs.
    var index: [UInt64: UInt64] { digests }
}

extension Sequence where Element == UInt8 {
    var hashValueStable: UInt64 {
        var hash = FNV()
        hash.add(self)
        return hash.value
    }
}
