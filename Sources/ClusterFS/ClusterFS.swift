import Glibc
import Synchronization

/// What a stat of a path returns.
public struct FileInfo: Equatable, Sendable {
    public enum Kind: Sendable { case file, directory, symlink }
    public var name: String
    public var kind: Kind
    public var size: Int
    public var mtime: UInt32
    public var inode: UInt64
    public var version: UInt64
    public var mode: UInt32
}

/// A change applied to the tree, as observers see it.
public struct ClusterFSChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case written, created, deleted, renamed(from: String) }
    public let path: String
    public let kind: Kind
    public let version: UInt64
}

/// The cluster configuration filesystem: the replicated tree (PVE's pmxcfs, done again). This type is
/// the in-process API the daemon uses; the FUSE front at /etc/pve is a second view of the same tree
/// with the same semantics. Thread-safe.
public final class ClusterFS: @unchecked Sendable {
    public struct Limits: Sendable {
        /// PVE's pmxcfs stops at 1 MiB, and a user.cfg synced from a large directory passes that (10,000
        /// users in 1,000 groups of 50 is about 1.5 MiB): changes travel in 256 KiB fragments, so a
        /// larger file costs only its bytes.
        public var maxFileSize = 16 * 1024 * 1024
        public var maxNameLength = 255
        public var lockTimeout: UInt32 = 120
        /// The HA managers' locks (`ha_…`) expire sooner: the fencing argument in Sources/HA rests on it.
        public var haLockTimeout: UInt32 = 30
        func lockTimeout(for name: String) -> UInt32 { name.hasPrefix("ha_") ? haLockTimeout : lockTimeout }
        public init() {}
    }

    public let nodeName: String
    public let nodeID: UInt32
    public let limits: Limits
    public let startTime = UInt32(time(nil))
    /// Unique in the process: what caches of parsed files key on (an address can be reused).
    public let instance = ClusterFS.instances.add(1, ordering: .relaxed).newValue
    private static let instances = Atomic<UInt64>(0)
    /// Per-node values shared with the other nodes and never stored (see StatusChannel).
    public let status: StatusChannel
    let memdb: MemDB
    private var mutex = pthread_mutex_t()
    private var observers: [Int: @Sendable ([ClusterFSChange]) -> Void] = [:]
    /// `.vmlist` as last built, and the tree version it belongs to: every guest listing reads it, and
    /// building it walks every node's config directories.
    private var vmlistCache: (version: UInt64, text: String)?
    private var nextObserver = 0
    /// Whether writes are allowed (quorum); local mode is always quorate.
    public var isQuorate: @Sendable () -> Bool = { true }
    /// Set in cluster mode: changes go through it instead of being applied here directly.
    var replicator: Replicator?
    /// Set in cluster mode: the `.members` file from the cluster's view.
    var membersProvider: (@Sendable () -> String?)?
    /// Runs on the writer's thread after each change it made, once observers have seen it: the mount
    /// waits there until the kernel dropped what it cached of the change.
    var writeBarrier: (@Sendable () -> Void)?
    /// Set in cluster mode: replication fields for `.clusterfs-status`.
    var replicationStatusProvider: (@Sendable () -> String)?

    /// Opens the tree in `databasePath`. In local mode (no `cluster`) this node's directories are
    /// made at once; in cluster mode once the node has joined a quorate group and synchronised.
    public init(databasePath: String, nodeName: String, nodeID: UInt32 = 1, limits: Limits = Limits(), local: Bool = true) throws {
        self.nodeName = nodeName
        self.nodeID = nodeID
        self.limits = limits
        status = StatusChannel(nodeName: nodeName)
        pthread_mutex_init(&mutex, nil)
        memdb = try MemDB(path: databasePath)
        if local { try ensureBaseLayout() }
    }

    deinit { pthread_mutex_destroy(&mutex) }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    /// The directories every node expects (`nodes/<self>/{qemu-server,lxc,priv}`, `priv/lock`).
    func ensureBaseLayout() throws {
        for dir in [
            "nodes", "nodes/\(nodeName)", "nodes/\(nodeName)/qemu-server", "nodes/\(nodeName)/lxc",
            "nodes/\(nodeName)/openvz", "nodes/\(nodeName)/priv", "priv", "priv/lock",
        ] where (try? stat(dir)) == nil {
            // in a cluster another node may make the shared ones first
            do { try mkdir(dir) } catch let error as ClusterFSError where error.errno == EEXIST {}
        }
    }

    // MARK: paths

    static func components(_ path: String) throws -> [String] {
        let parts = path.split(separator: "/").map(String.init)
        guard !parts.contains(where: { $0 == "." || $0 == ".." || $0.contains("\0") }) else {
            throw ClusterFSError(EINVAL, "invalid path '\(path)'")
        }
        return parts
    }

    static func join(_ parts: [String]) -> String { parts.joined(separator: "/") }

    private func mode(for components: [String], kind: TreeEntry.Kind) -> UInt32 {
        let isPrivate = components.first == "priv" || (components.count > 2 && components[0] == "nodes" && components[2] == "priv")
        switch kind {
        case .directory: return isPrivate ? 0o40700 : 0o40755
        case .file: return isPrivate ? 0o100600 : 0o100640
        }
    }

    private func info(_ entry: TreeEntry, _ components: [String]) -> FileInfo {
        FileInfo(
            name: entry.name, kind: entry.kind == .directory ? .directory : .file, size: entry.data.count, mtime: entry.mtime,
            inode: entry.inode, version: entry.version, mode: mode(for: components, kind: entry.kind))
    }

    // MARK: reads

    public func stat(_ path: String) throws -> FileInfo {
        let parts = try Self.components(path)
        if parts.count == 1, let virtual = virtualFile(parts[0]) {
            return FileInfo(
                name: parts[0], kind: .file, size: virtual.count, mtime: startTime, inode: virtualInode(parts[0]), version: version, mode: 0o100440)
        }
        if parts.count == 1, symlinkTarget(parts[0]) != nil {
            return FileInfo(
                name: parts[0], kind: .symlink, size: symlinkTarget(parts[0])!.utf8.count, mtime: startTime, inode: virtualInode(parts[0]),
                version: 0, mode: 0o120777)
        }
        return try locked {
            guard let entry = memdb.lookup(parts) else { throw ClusterFSError.notFound(path) }
            var result = info(entry, parts)
            if parts.isEmpty { result.mtime = startTime }
            return result
        }
    }

    public func read(_ path: String) throws -> [UInt8] {
        let parts = try Self.components(path)
        if parts.count == 1, let virtual = virtualFile(parts[0]) { return virtual }
        return try locked {
            guard let entry = memdb.lookup(parts) else { throw ClusterFSError.notFound(path) }
            guard entry.kind == .file else { throw ClusterFSError.isDirectory(path) }
            return entry.data
        }
    }

    /// A file's content with the version of the change that wrote it, read at once; virtual files have
    /// no version (their content changes without one).
    public func readVersioned(_ path: String) throws -> (data: [UInt8], version: UInt64?) {
        let parts = try Self.components(path)
        if parts.count == 1, let virtual = virtualFile(parts[0]) { return (virtual, nil) }
        return try locked {
            guard let entry = memdb.lookup(parts) else { throw ClusterFSError.notFound(path) }
            guard entry.kind == .file else { throw ClusterFSError.isDirectory(path) }
            return (entry.data, entry.version)
        }
    }

    public func readString(_ path: String) throws -> String { String(decoding: try read(path), as: UTF8.self) }

    /// The entries of a directory (the root also lists the virtual files and the node symlinks).
    public func list(_ path: String) throws -> [FileInfo] {
        let parts = try Self.components(path)
        var out: [FileInfo] = try locked {
            guard let entry = memdb.lookup(parts) else { throw ClusterFSError.notFound(path) }
            guard entry.kind == .directory else { throw ClusterFSError.notDirectory(path) }
            return memdb.list(entry.inode).map { info($0, parts + [$0.name]) }
        }
        if parts.isEmpty {
            for name in Self.virtualNames + Self.symlinkNames { out.append(try stat(name)) }
        }
        return out
    }

    public func symlinkTarget(_ name: String) -> String? {
        switch name {
        case "local": "nodes/\(nodeName)"
        case "qemu-server", "lxc", "openvz": "nodes/\(nodeName)/\(name)"
        default: nil
        }
    }

    static let symlinkNames = ["local", "qemu-server", "lxc", "openvz"]

    /// The global version: it grows with every change.
    public var version: UInt64 { locked { memdb.version } }

    /// What nodes compare to detect divergence (global version and every entry), in hex.
    public func checksum() -> String { locked { String(memdb.checksum, radix: 16) } }

    // MARK: writes
    //
    // Every change is an Operation: checked where it is made (names, sizes, quorum), then applied,
    // directly in local mode or, in cluster mode, by every node in the order corosync delivers it.
    // Applying depends only on the tree and the operation (its time included), so all nodes reach
    // the same result, errors included.

    private func checkWritable(_ parts: [String]) throws {
        guard isQuorate() else { throw ClusterFSError.noQuorum }
        guard let name = parts.last else { throw ClusterFSError(EPERM, "the root cannot be changed") }
        guard name.utf8.count <= limits.maxNameLength else { throw ClusterFSError(ENAMETOOLONG, "name longer than \(limits.maxNameLength) bytes") }
        if parts.count == 1, virtualFile(name) != nil || symlinkTarget(name) != nil {
            throw ClusterFSError(EACCES, "'\(name)' is maintained by the filesystem")
        }
    }

    /// Creates or replaces a file; the parent directory must exist.
    public func write(_ path: String, _ data: [UInt8], mtime: UInt32? = nil) throws { try put(path, data, exclusive: false, mtime: mtime) }

    /// Creates a file that must not exist yet.
    public func create(_ path: String, _ data: [UInt8] = []) throws { try put(path, data, exclusive: true, mtime: nil) }

    private func put(_ path: String, _ data: [UInt8], exclusive: Bool, mtime: UInt32?) throws {
        let parts = try Self.components(path)
        try checkWritable(parts)
        guard data.count <= limits.maxFileSize else { throw ClusterFSError(EFBIG, "'\(path)' would exceed \(limits.maxFileSize) bytes") }
        try perform(.put(path: parts, data: data, exclusive: exclusive, time: mtime ?? UInt32(time(nil))))
    }

    public func mkdir(_ path: String) throws {
        let parts = try Self.components(path)
        try checkWritable(parts)
        try perform(.mkdir(path: parts, time: UInt32(time(nil))))
    }

    /// Removes a file or an empty directory.
    public func delete(_ path: String) throws {
        let parts = try Self.components(path)
        try checkWritable(parts)
        try perform(.delete(path: parts))
    }

    /// Atomically renames; an existing target file is replaced (write-temp-then-rename works).
    public func rename(_ from: String, to: String) throws {
        let source = try Self.components(from), target = try Self.components(to)
        try checkWritable(source)
        try checkWritable(target)
        try perform(.rename(from: source, to: target))
    }

    /// Sets a file's or directory's modification time (refreshes a cluster lock).
    public func setMtime(_ path: String, _ mtime: UInt32) throws {
        let parts = try Self.components(path)
        try checkWritable(parts)
        try perform(.setMtime(path: parts, time: mtime))
    }

    /// Whether a file could be created at `path` now (parent, name, quorum, unique VMID), without
    /// creating it: the FUSE front answers `create` with this and commits the data on close.
    public func checkCreate(_ path: String) throws {
        let parts = try Self.components(path)
        try checkWritable(parts)
        try locked {
            guard let parent = memdb.lookup(Array(parts.dropLast())) else { throw ClusterFSError.notFound(Self.join(parts.dropLast())) }
            guard parent.kind == .directory else { throw ClusterFSError.notDirectory(Self.join(parts.dropLast())) }
            if memdb.childInode(parent.inode, parts.last!) != nil { throw ClusterFSError.exists(Self.join(parts)) }
            try checkUniqueGuestID(parts, movingFrom: nil)
        }
    }

    /// Total bytes and entries stored (statfs).
    public var usage: (bytes: Int, entries: Int) {
        locked { (memdb.entries.values.reduce(0) { $0 + $1.data.count }, memdb.entries.count) }
    }

    private func perform(_ operation: ClusterFSOperation) throws {
        defer { locked { writeBarrier }?() }
        if let replicator = locked({ self.replicator }) {
            try replicator.submit(operation)
            return
        }
        let change = try apply(operation, writer: nodeID)
        notify([change])
    }

    /// Applies one operation to the tree (one SQLite transaction). The caller notifies observers.
    func apply(_ operation: ClusterFSOperation, writer: UInt32) throws -> ClusterFSChange {
        try locked {
            let newVersion = memdb.version + 1
            switch operation {
            case .put(let parts, let data, let exclusive, let now):
                let parent = try parentEntry(parts)
                if let inode = memdb.childInode(parent.inode, parts.last!), var existing = memdb.entries[inode] {
                    if exclusive { throw ClusterFSError.exists(Self.join(parts)) }
                    guard existing.kind == .file else { throw ClusterFSError.isDirectory(Self.join(parts)) }
                    existing.data = data
                    existing.version = newVersion
                    existing.writer = writer
                    existing.mtime = now
                    try memdb.commit(upserts: [existing], deletes: [], newVersion: newVersion)
                    return ClusterFSChange(path: Self.join(parts), kind: .written, version: newVersion)
                }
                try checkUniqueGuestID(parts, movingFrom: nil)
                let entry = TreeEntry(
                    inode: newVersion, parent: parent.inode, version: newVersion, writer: writer, mtime: now, kind: .file,
                    name: parts.last!, data: data)
                try memdb.commit(upserts: [entry], deletes: [], newVersion: newVersion)
                return ClusterFSChange(path: Self.join(parts), kind: .created, version: newVersion)

            case .mkdir(let parts, let now):
                let parent = try parentEntry(parts)
                if let inode = memdb.childInode(parent.inode, parts.last!), var existing = memdb.entries[inode] {
                    // an expired cluster lock (priv/lock/<name>) may be taken over
                    guard isLockPath(parts), existing.kind == .directory, now &- existing.mtime > limits.lockTimeout(for: parts[2]),
                        now >= existing.mtime
                    else {
                        throw ClusterFSError.exists(Self.join(parts))
                    }
                    existing.mtime = now
                    existing.version = newVersion
                    existing.writer = writer
                    try memdb.commit(upserts: [existing], deletes: [], newVersion: newVersion)
                    return ClusterFSChange(path: Self.join(parts), kind: .written, version: newVersion)
                }
                let entry = TreeEntry(
                    inode: newVersion, parent: parent.inode, version: newVersion, writer: writer, mtime: now, kind: .directory,
                    name: parts.last!, data: [])
                try memdb.commit(upserts: [entry], deletes: [], newVersion: newVersion)
                return ClusterFSChange(path: Self.join(parts), kind: .created, version: newVersion)

            case .delete(let parts):
                guard let entry = memdb.lookup(parts), !parts.isEmpty else { throw ClusterFSError.notFound(Self.join(parts)) }
                if entry.kind == .directory, !memdb.list(entry.inode).isEmpty {
                    throw ClusterFSError(ENOTEMPTY, "'\(Self.join(parts))' is not empty")
                }
                try memdb.commit(upserts: [], deletes: [entry.inode], newVersion: newVersion)
                return ClusterFSChange(path: Self.join(parts), kind: .deleted, version: newVersion)

            case .rename(let source, let target):
                let from = Self.join(source), to = Self.join(target)
                guard var entry = memdb.lookup(source), !source.isEmpty else { throw ClusterFSError.notFound(from) }
                let parent = try parentEntry(target)
                if entry.kind == .directory, target.starts(with: source) { throw ClusterFSError(EINVAL, "cannot move '\(from)' into itself") }
                var deletes: [UInt64] = []
                if let existingInode = memdb.childInode(parent.inode, target.last!), existingInode != entry.inode,
                    let existing = memdb.entries[existingInode]
                {
                    if existing.kind == .directory && (entry.kind != .directory || !memdb.list(existingInode).isEmpty) {
                        throw ClusterFSError(existing.kind == .directory && entry.kind == .directory ? ENOTEMPTY : EISDIR, "cannot replace '\(to)'")
                    }
                    if existing.kind == .file && entry.kind == .directory { throw ClusterFSError.notDirectory(to) }
                    deletes.append(existingInode)
                }
                try checkUniqueGuestID(target, movingFrom: source)
                entry.parent = parent.inode
                entry.name = target.last!
                entry.version = newVersion
                entry.writer = writer
                try memdb.commit(upserts: [entry], deletes: deletes, newVersion: newVersion)
                return ClusterFSChange(path: to, kind: .renamed(from: from), version: newVersion)

            case .setMtime(let parts, let mtime):
                guard var entry = memdb.lookup(parts), !parts.isEmpty else { throw ClusterFSError.notFound(Self.join(parts)) }
                entry.mtime = mtime
                entry.version = newVersion
                try memdb.commit(upserts: [entry], deletes: [], newVersion: newVersion)
                return ClusterFSChange(path: Self.join(parts), kind: .written, version: newVersion)
            }
        }
    }

    private func parentEntry(_ parts: [String]) throws -> TreeEntry {
        guard let parent = memdb.lookup(Array(parts.dropLast())) else { throw ClusterFSError.notFound(Self.join(parts.dropLast())) }
        guard parent.kind == .directory else { throw ClusterFSError.notDirectory(Self.join(parts.dropLast())) }
        return parent
    }

    // MARK: guest IDs and locks

    /// `nodes/<node>/qemu-server/<vmid>.conf` or `…/lxc/<vmid>.conf` → the VMID.
    static func guestID(_ parts: [String]) -> (vmid: UInt32, type: String)? {
        guard parts.count == 4, parts[0] == "nodes", parts[2] == "qemu-server" || parts[2] == "lxc", parts[3].hasSuffix(".conf"),
            let vmid = UInt32(parts[3].dropLast(5)), vmid >= 100
        else { return nil }
        return (vmid, parts[2] == "qemu-server" ? "qemu" : "lxc")
    }

    /// VMIDs are unique cluster-wide: a guest config may only be created where no other node has it
    /// (moving the same config between nodes is allowed). Called with the lock held.
    private func checkUniqueGuestID(_ target: [String], movingFrom source: [String]?) throws {
        guard let (vmid, _) = Self.guestID(target) else { return }
        for (existing, path) in guestConfigs() where existing.vmid == vmid {
            if let source, Self.guestID(source)?.vmid == vmid, path == Self.join(source) { continue }
            // a rename over the guest's own config replaces it (write-temp-then-rename)
            if source != nil, path == Self.join(target) { continue }
            throw ClusterFSError(EEXIST, "VM \(vmid) already exists at '\(path)'")
        }
    }

    private func guestConfigs() -> [((vmid: UInt32, type: String, node: String, version: UInt64), String)] {
        guard let nodes = memdb.lookup(["nodes"]) else { return [] }
        var out: [((UInt32, String, String, UInt64), String)] = []
        for node in memdb.list(nodes.inode) where node.kind == .directory {
            for kind in ["qemu-server", "lxc"] {
                guard let dir = memdb.childInode(node.inode, kind) else { continue }
                for file in memdb.list(dir) where file.kind == .file {
                    let parts = ["nodes", node.name, kind, file.name]
                    if let id = Self.guestID(parts) { out.append(((id.vmid, id.type, node.name, file.version), Self.join(parts))) }
                }
            }
        }
        return out
    }

    func isLockPath(_ parts: [String]) -> Bool { parts.count == 3 && parts[0] == "priv" && parts[1] == "lock" }

    /// Takes the cluster lock `name` (mkdir of `priv/lock/<name>`, atomic; expires after `lockTimeout`
    /// seconds unless refreshed). Throws EEXIST while someone else holds it.
    public func acquireLock(_ name: String) throws {
        do {
            try mkdir("priv/lock/\(name)")
        } catch let error as ClusterFSError where error.errno == ENOENT {
            // a tree whose layout another node has not finished yet: make the lock directory first
            for dir in ["priv", "priv/lock"] {
                do { try mkdir(dir) } catch let e as ClusterFSError where e.errno == EEXIST {}
            }
            try mkdir("priv/lock/\(name)")
        }
    }
    public func refreshLock(_ name: String) throws { try setMtime("priv/lock/\(name)", UInt32(time(nil))) }
    public func releaseLock(_ name: String) throws { try delete("priv/lock/\(name)") }

    // MARK: observers

    public func addObserver(_ observer: @escaping @Sendable ([ClusterFSChange]) -> Void) -> Int {
        locked {
            nextObserver += 1
            observers[nextObserver] = observer
            return nextObserver
        }
    }

    public func removeObserver(_ token: Int) { locked { _ = observers.removeValue(forKey: token) } }

    /// Calls `action` after any change to a path `relevant` accepts (a rename counts for both names).
    @discardableResult
    public func observe(paths relevant: @escaping @Sendable (String) -> Bool, _ action: @escaping @Sendable () -> Void) -> Int {
        addObserver { changes in
            let hit = changes.contains { change in
                if relevant(change.path) { return true }
                if case .renamed(let from) = change.kind { return relevant(from) }
                return false
            }
            if hit { action() }
        }
    }

    func notify(_ changes: [ClusterFSChange]) {
        for observer in locked({ Array(observers.values) }) { observer(changes) }
    }

    // MARK: virtual files

    static let virtualNames = [".version", ".members", ".vmlist", ".clusterlog", ".debug", ".clusterfs-status"]

    private func virtualInode(_ name: String) -> UInt64 { UInt64.max - UInt64(name.utf8.hashValueStable % 1_000_000) }

    /// Generated files in PVE's JSON shapes; nil for any other name.
    public func virtualFile(_ name: String) -> [UInt8]? {
        switch name {
        case ".version": return Array(versionJSON().utf8)
        case ".members": return Array(membersJSON().utf8)
        case ".vmlist": return Array(vmlistJSON().utf8)
        case ".clusterlog": return Array(clusterLogJSON().utf8)
        case ".debug": return Array("0\n".utf8)
        case ".clusterfs-status": return Array(statusJSON().utf8)
        default: return nil
        }
    }

    private func versionJSON() -> String {
        locked {
            var fields = ["\"starttime\": \(startTime)", "\"clinfo\": 1", "\"vmlist\": \(memdb.version)"]
            for name in [
                "corosync.conf", "storage.cfg", "user.cfg", "domains.cfg", "datacenter.cfg", "priv/shadow.cfg", "priv/token.cfg", "priv/tfa.cfg",
            ] {
                if let entry = memdb.lookup(name.split(separator: "/").map(String.init)) { fields.append("\"\(name)\": \(entry.version)") }
            }
            return "{\n" + fields.joined(separator: ",\n") + "\n}\n"
        }
    }

    private func membersJSON() -> String {
        if let provider = locked({ membersProvider }), let json = provider() { return json }
        return
            "{\n\"nodename\": \"\(nodeName)\",\n\"version\": 1,\n\"cluster\": { \"name\": \"local\", \"version\": 1, \"nodes\": 1, \"quorate\": \(isQuorate() ? 1 : 0) },\n\"nodelist\": {\n  \"\(nodeName)\": { \"id\": \(nodeID), \"online\": 1, \"ip\": \"127.0.0.1\"}\n  }\n}\n"
    }

    /// Corral's own: how this node's copy of the tree stands (what operators and tests compare).
    private func statusJSON() -> String {
        let (version, checksum, entries) = locked { (memdb.version, memdb.checksum, memdb.entries.count) }
        let replication = locked { replicationStatusProvider }?() ?? "\"mode\": \"local\""
        return
            "{\n\"nodename\": \"\(nodeName)\",\n\"version\": \(version),\n\"checksum\": \"\(String(checksum, radix: 16))\",\n\"entries\": \(entries),\n\(replication)\n}\n"
    }

    private func vmlistJSON() -> String {
        locked {
            if let cached = vmlistCache, cached.version == memdb.version { return cached.text }
            let items = guestConfigs().sorted { $0.0.vmid < $1.0.vmid }.map { g, _ in
                "\"\(g.vmid)\": { \"node\": \"\(g.node)\", \"type\": \"\(g.type)\", \"version\": \(g.version) }"
            }
            let text = "{\n\"version\": \(memdb.version),\n\"ids\": {\n" + items.joined(separator: ",\n") + "}\n\n}\n"
            vmlistCache = (memdb.version, text)
            return text
        }
    }
}
