import FUSE
import Glibc

/// The FUSE view of the cluster filesystem (mounted at /etc/pve). Writes collect in a buffer per open
/// file and are committed on flush/close, so a file written in many small chunks becomes one change,
/// not one per chunk. Files are root:www-data, 0640 (priv/ 0700); only root writes.
public final class ClusterFSFuse: FUSEFileSystem, @unchecked Sendable {
    struct OpenFile {
        var path: String
        var data: [UInt8]
        var dirty: Bool
        /// Created through this handle and not yet committed.
        var pendingCreate: Bool
        /// Opened with O_EXCL: committing must still find no file there. Without it, a file another
        /// node made meanwhile is simply overwritten, as open(O_CREAT|O_TRUNC) promises.
        var exclusive = false
        /// A write through this handle failed: nothing of it is committed (no half-written file).
        var failed: FUSEErrno? = nil
        /// Whose writes these are (the kernel's lock owner, one per process file table).
        var writer: UInt64? = nil
    }

    private let fs: ClusterFS
    private var openFiles: [UInt64: OpenFile] = [:]
    private var nextHandle: UInt64 = 1
    private var mutex = pthread_mutex_t()
    private let gid: UInt32

    public init(_ fs: ClusterFS) {
        self.fs = fs
        pthread_mutex_init(&mutex, nil)
        gid = getgrnam("www-data").map { $0.pointee.gr_gid } ?? 33
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    private func errno(_ error: any Error) -> FUSEErrno {
        (error as? ClusterFSError).map { FUSEErrno($0.errno) } ?? FUSEErrno(EIO)
    }

    private func run(_ body: () throws -> Void) -> FUSEErrno? {
        do {
            try body()
            return nil
        } catch { return errno(error) }
    }

    /// Only root changes the cluster configuration.
    private var callerIsRoot: Bool { FUSERequest.callerUID == 0 }

    public func getattr(_ path: String, fh: UInt64?) -> Result<FUSEAttributes, FUSEErrno> {
        let pending = locked { openFiles.values.first { $0.path == path && ($0.dirty || $0.pendingCreate) } }
        if let pending, pending.pendingCreate || fh != nil {
            return .success(FUSEAttributes(kind: .file, mode: 0o100640, size: pending.data.count, mtime: Int(time(nil)), inode: 1, gid: gid))
        }
        // through a handle, the size is that of the copy its reads see (the kernel asks with the reader's
        // handle before reading past the size it knows)
        let own = fh.flatMap { fh in locked { openFiles[fh] } }
        do {
            let info = try fs.stat(path)
            let kind: FUSEAttributes.Kind = info.kind == .directory ? .directory : info.kind == .symlink ? .symlink : .file
            var size = info.size
            if let pending, pending.dirty { size = pending.data.count }
            if let own { size = own.data.count }
            // the virtual files (.members, .vmlist, …) are generated: no change announces theirs
            let volatile = info.mode == 0o100440
            return .success(
                FUSEAttributes(kind: kind, mode: info.mode, size: size, mtime: Int(info.mtime), inode: info.inode + 1, gid: gid, volatile: volatile))
        } catch {
            if let own {
                return .success(FUSEAttributes(kind: .file, mode: 0o100640, size: own.data.count, mtime: Int(time(nil)), inode: 1, gid: gid))
            }
            return .failure(errno(error))
        }
    }

    public func readdir(_ path: String) -> Result<[FUSEDirectoryEntry], FUSEErrno> {
        do {
            return .success(
                try fs.list(path).map {
                    FUSEDirectoryEntry(
                        name: $0.name, kind: $0.kind == .directory ? .directory : $0.kind == .symlink ? .symlink : .file, inode: $0.inode + 1)
                })
        } catch { return .failure(errno(error)) }
    }

    public func readlink(_ path: String) -> Result<String, FUSEErrno> {
        let name = path.split(separator: "/").map(String.init)
        guard name.count == 1, let target = fs.symlinkTarget(name[0]) else { return .failure(FUSEErrno(EINVAL)) }
        return .success(target)
    }

    public func mkdir(_ path: String) -> FUSEErrno? {
        guard callerIsRoot else { return FUSEErrno(EACCES) }
        return run { try fs.mkdir(path) }
    }

    public func unlink(_ path: String) -> FUSEErrno? {
        guard callerIsRoot else { return FUSEErrno(EACCES) }
        return run {
            guard try fs.stat(path).kind != .directory else { throw ClusterFSError.isDirectory(path) }
            try fs.delete(path)
        }
    }

    public func rmdir(_ path: String) -> FUSEErrno? {
        guard callerIsRoot else { return FUSEErrno(EACCES) }
        return run {
            guard try fs.stat(path).kind == .directory else { throw ClusterFSError.notDirectory(path) }
            try fs.delete(path)
        }
    }

    public func rename(_ from: String, _ to: String, flags: UInt32) -> FUSEErrno? {
        guard callerIsRoot else { return FUSEErrno(EACCES) }
        guard flags == 0 else { return FUSEErrno(EINVAL) }  // RENAME_EXCHANGE / NOREPLACE are not offered
        return run { try fs.rename(from, to: to) }
    }

    public func truncate(_ path: String, size: Int, fh: UInt64?) -> FUSEErrno? {
        guard callerIsRoot else { return FUSEErrno(EACCES) }
        guard size <= fs.limits.maxFileSize else { return FUSEErrno(EFBIG) }
        if let fh, locked({ openFiles[fh] != nil }) {
            locked {
                openFiles[fh]!.data = Array(openFiles[fh]!.data.prefix(size)) + [UInt8](repeating: 0, count: max(0, size - openFiles[fh]!.data.count))
                openFiles[fh]!.dirty = true
            }
            return nil
        }
        return run {
            var data = try fs.read(path)
            data = Array(data.prefix(size)) + [UInt8](repeating: 0, count: max(0, size - data.count))
            try fs.write(path, data)
        }
    }

    public func open(_ path: String, flags: Int32) -> Result<FUSEOpenFile, FUSEErrno> {
        let writing = flags & O_ACCMODE != O_RDONLY
        if writing && !callerIsRoot { return .failure(FUSEErrno(EACCES)) }
        do {
            let info = try fs.stat(path)
            guard info.kind == .file else { return .failure(FUSEErrno(EISDIR)) }
            let (data, version) = flags & O_TRUNC != 0 ? ([], nil) : try fs.readVersioned(path)
            let fh = register(OpenFile(path: path, data: data, dirty: flags & O_TRUNC != 0, pendingCreate: false))
            // reads through the handle see this copy, whatever happens to the file meanwhile
            return .success(FUSEOpenFile(handle: fh, size: data.count, version: writing ? nil : version))
        } catch { return .failure(errno(error)) }
    }

    public func create(_ path: String, flags: Int32) -> Result<FUSEOpenFile, FUSEErrno> {
        guard callerIsRoot else { return .failure(FUSEErrno(EACCES)) }
        do {
            try fs.checkCreate(path)
            let fh = register(OpenFile(path: path, data: [], dirty: true, pendingCreate: true, exclusive: flags & O_EXCL != 0))
            return .success(FUSEOpenFile(handle: fh, size: 0, version: nil))
        } catch let error as ClusterFSError where error.errno == EEXIST && flags & O_EXCL == 0 && (try? fs.stat(path))?.kind == .file {
            // another node made the file between the kernel's lookup and this create: without O_EXCL,
            // open(O_CREAT) opens what is there (a VMID taken under another node stays EEXIST)
            return open(path, flags: flags)
        } catch { return .failure(errno(error)) }
    }

    private func register(_ file: OpenFile) -> UInt64 {
        locked {
            let fh = nextHandle
            nextHandle += 1
            openFiles[fh] = file
            return fh
        }
    }

    public func read(_ path: String, fh: UInt64, size: Int, offset: Int) -> Result<[UInt8], FUSEErrno> {
        let data: [UInt8]
        if let file = locked({ openFiles[fh] }) {
            data = file.data
        } else {
            do { data = try fs.read(path) } catch { return .failure(errno(error)) }
        }
        guard offset < data.count else { return .success([]) }
        return .success(Array(data[offset..<min(data.count, offset + size)]))
    }

    public func write(_ path: String, fh: UInt64, data: UnsafeRawBufferPointer, offset: Int, lockOwner: UInt64) -> Result<Int, FUSEErrno> {
        return locked {
            guard var file = openFiles[fh] else { return .failure(FUSEErrno(EBADF)) }
            if lockOwner != 0 { file.writer = lockOwner }
            guard offset + data.count <= fs.limits.maxFileSize else {
                openFiles[fh]?.failed = FUSEErrno(EFBIG)
                if lockOwner != 0 { openFiles[fh]?.writer = lockOwner }
                return .failure(FUSEErrno(EFBIG))
            }
            if file.data.count < offset + data.count {
                file.data.append(contentsOf: repeatElement(0, count: offset + data.count - file.data.count))
            }
            file.data.replaceSubrange(offset..<offset + data.count, with: data)
            file.dirty = true
            openFiles[fh] = file
            return .success(data.count)
        }
    }

    /// Commits a handle's buffer: one change for the whole file. Every close of a descriptor flushes,
    /// including the close of a copy a forked child inherited; only the writer's own close commits,
    /// so a fork in the middle of writing does not publish half a file (release commits what is left).
    public func flush(_ path: String, fh: UInt64, lockOwner: UInt64) -> FUSEErrno? {
        guard let file = locked({ openFiles[fh] }) else { return nil }
        if let writer = file.writer, lockOwner != 0, writer != lockOwner { return nil }
        return commit(fh, file)
    }

    private func commit(_ fh: UInt64, _ file: OpenFile) -> FUSEErrno? {
        if let failed = file.failed { return failed }
        guard file.dirty else { return nil }
        let result = run {
            if file.pendingCreate && file.exclusive { try fs.create(file.path, file.data) } else { try fs.write(file.path, file.data) }
        }
        locked {
            if result == nil {
                openFiles[fh]?.dirty = false
                openFiles[fh]?.pendingCreate = false
            }
        }
        return result
    }

    public func release(_ path: String, fh: UInt64) -> FUSEErrno? {
        let result = locked({ openFiles[fh] }).flatMap { commit(fh, $0) }
        locked { _ = openFiles.removeValue(forKey: fh) }
        return result
    }

    public func utimens(_ path: String, mtime: Int) -> FUSEErrno? {
        guard callerIsRoot else { return FUSEErrno(EACCES) }
        if locked({ openFiles.values.contains { $0.path == path && $0.pendingCreate } }) { return nil }
        return run { try fs.setMtime(path, UInt32(truncatingIfNeeded: mtime)) }
    }

    public func statfs() -> FUSEStatfs {
        let (bytes, entries) = fs.usage
        let blocks: UInt = 128 * 1024 * 1024 / 4096
        return FUSEStatfs(
            blockSize: 4096, blocks: blocks, freeBlocks: blocks - min(blocks, UInt(bytes / 4096)), files: UInt(entries),
            nameMax: UInt(fs.limits.maxNameLength))
    }
}
