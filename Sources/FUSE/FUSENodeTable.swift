import Synchronization

/// The node ids the kernel holds and the names they stand for. The kernel speaks in node ids; the
/// filesystem behind it in paths. A node is known from the reply that named it (lookup, create, mkdir)
/// until the kernel forgets it; it follows renames made through the mount and is detached by unlinks,
/// so a file still open after its name went away keeps its id but resolves to no current name.
final class FUSENodeTable: Sendable {
    static let root: UInt64 = 1

    struct Node {
        var parent: UInt64
        var name: String
        /// How many replies named it and the kernel has not forgotten yet.
        var lookups: UInt64
        var attached: Bool
        /// The size the kernel was last told (lookup, getattr): a reader may use the page cache only
        /// while the file still has that size, so a size the kernel has not learned yet cannot cut a read short.
        var reportedSize: Int
        /// Open handles reading through the page cache, and the one version they all read.
        var pageReaders = 0
        var pageVersion: UInt64 = 0
        /// The version the kernel's cached pages of this node hold, if any.
        var cachedVersion: UInt64? = nil
    }

    struct Key: Hashable {
        let parent: UInt64
        let name: String
    }

    private struct State {
        var nodes: [UInt64: Node] = [FUSENodeTable.root: Node(parent: 0, name: "", lookups: 1, attached: true, reportedSize: 0)]
        var ids: [Key: UInt64] = [:]
        var next: UInt64 = 2
    }

    private let state = Mutex(State())

    /// The path of `id` within the mount ("/", "/nodes/a") and whether it still names it; nil for an
    /// id the table does not know.
    func path(_ id: UInt64) -> (path: String, attached: Bool)? {
        state.withLock { s in
            guard var node = s.nodes[id] else { return nil }
            if id == Self.root { return ("/", true) }
            var names = [node.name]
            var attached = node.attached
            while node.parent != Self.root {
                guard let parent = s.nodes[node.parent] else { return nil }
                names.append(parent.name)
                attached = attached && parent.attached
                node = parent
            }
            var path = ""
            for name in names.reversed() {
                path += "/"
                path += name
            }
            return (path, attached)
        }
    }

    /// Counts one more reply naming `name` in `parent`; makes the node on the first.
    func remember(_ parent: UInt64, _ name: String, size: Int) -> UInt64 {
        state.withLock { s in
            let key = Key(parent: parent, name: name)
            if let id = s.ids[key] {
                s.nodes[id]!.lookups += 1
                s.nodes[id]!.reportedSize = size
                return id
            }
            let id = s.next
            s.next += 1
            s.nodes[id] = Node(parent: parent, name: name, lookups: 1, attached: true, reportedSize: size)
            s.ids[key] = id
            return id
        }
    }

    func forget(_ id: UInt64, _ count: UInt64) {
        guard id != Self.root else { return }
        state.withLock { s in
            guard var node = s.nodes[id] else { return }
            node.lookups -= min(count, node.lookups)
            guard node.lookups == 0 else {
                s.nodes[id] = node
                return
            }
            s.nodes[id] = nil
            let key = Key(parent: node.parent, name: node.name)
            if s.ids[key] == id { s.ids[key] = nil }
        }
    }

    /// The name went away through the mount (unlink, rmdir, or replaced by a rename).
    func detach(_ parent: UInt64, _ name: String) {
        state.withLock { s in
            if let id = s.ids.removeValue(forKey: Key(parent: parent, name: name)) { s.nodes[id]?.attached = false }
        }
    }

    /// A rename through the mount: the node keeps its id under the new name; one that had the new name is detached.
    func move(_ parent: UInt64, _ name: String, to newParent: UInt64, _ newName: String) {
        state.withLock { s in
            let target = Key(parent: newParent, name: newName)
            if let replaced = s.ids.removeValue(forKey: target) { s.nodes[replaced]?.attached = false }
            guard let id = s.ids.removeValue(forKey: Key(parent: parent, name: name)) else { return }
            s.nodes[id]?.parent = newParent
            s.nodes[id]?.name = newName
            s.ids[target] = id
        }
    }

    /// Whether a reader of `version` (`size` bytes) may read through the page cache, and whether the
    /// pages cached now already hold that version (then the open keeps them and no read is sent at all).
    /// Every page reader of a node reads the same version, so pages never mix two versions; a reader of
    /// another version reads directly until they are all closed. `alone`: no other page reader is open,
    /// so no read request of this node is in flight and the pages can be filled without waiting for one.
    func admitPageReader(_ id: UInt64, version: UInt64, size: Int) -> (admitted: Bool, keepCache: Bool, alone: Bool) {
        state.withLock { s in
            guard var node = s.nodes[id], node.reportedSize == size, node.pageReaders == 0 || node.pageVersion == version else {
                return (false, false, false)
            }
            let keep = node.cachedVersion == version
            let alone = node.pageReaders == 0
            node.pageReaders += 1
            node.pageVersion = version
            // an open without keep_cache empties the cache; from here on only this version fills it
            node.cachedVersion = version
            s.nodes[id] = node
            return (true, keep, alone)
        }
    }

    func releasePageReader(_ id: UInt64) {
        state.withLock { s in
            if let readers = s.nodes[id]?.pageReaders, readers > 0 { s.nodes[id]!.pageReaders = readers - 1 }
        }
    }

    func reportedSize(_ id: UInt64) -> Int? { state.withLock { $0.nodes[id]?.reportedSize } }

    func report(_ id: UInt64, size: Int) { state.withLock { $0.nodes[id]?.reportedSize = size } }

    /// A write through the mount ended at `end`: the kernel extends its size to there, as files grow.
    func wrote(_ id: UInt64, end: Int) {
        state.withLock { s in
            if let size = s.nodes[id]?.reportedSize, size < end { s.nodes[id]!.reportedSize = end }
        }
    }

    /// The ids the kernel may hold for `path` and its directory: what to invalidate after a change
    /// made elsewhere.
    func ids(of path: String) -> (parent: UInt64?, node: UInt64?, name: String) {
        let parts = path.split(separator: "/")
        guard let last = parts.last else { return (nil, Self.root, "") }
        return state.withLock { s in
            var id = Self.root
            for part in parts.dropLast() {
                guard let child = s.ids[Key(parent: id, name: String(part))] else { return (nil, nil, String(last)) }
                id = child
            }
            return (id, s.ids[Key(parent: id, name: String(last))], String(last))
        }
    }

    /// Nodes the table holds (for tests and the status file).
    var count: Int { state.withLock { $0.nodes.count } }
}
