internal import CFUSE
import Glibc
import Synchronization

// The C callbacks of libfuse's low-level API, as plain functions (a closure in main.swift would be
// main-actor isolated and crash on FUSE's threads, see RUNBOOK). Each resolves the kernel's node ids to
// paths through the node table, calls the Swift filesystem and replies. They run on several loop
// threads at once.

private func box(_ req: fuse_req_t?) -> FUSEBox {
    Unmanaged<FUSEBox>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
}

/// The box of a request, with the calling thread marked as serving it (the caller's uid).
private func begin(_ req: fuse_req_t?) -> FUSEBox {
    FUSEThread.begin(uid: fuse_req_ctx(req)?.pointee.uid ?? uid_t.max)
    return box(req)
}

private func replyError(_ req: fuse_req_t?, _ code: Int32) { fuse_reply_err(req, code) }

private func join(_ directory: String, _ name: UnsafePointer<CChar>) -> String {
    directory == "/" ? "/" + String(cString: name) : directory + "/" + String(cString: name)
}

private func fill(_ st: inout stat, _ a: FUSEAttributes) {
    st = stat()
    st.st_mode = a.mode
    st.st_nlink = a.kind == .directory ? 2 : 1
    st.st_size = a.size
    st.st_ino = UInt(a.inode)
    st.st_uid = a.uid
    st.st_gid = a.gid
    st.st_blksize = 4096
    st.st_blocks = (a.size + 511) / 512
    st.st_mtim.tv_sec = a.mtime
    st.st_ctim.tv_sec = a.mtime
    st.st_atim.tv_sec = a.mtime
}

/// A node id whose name no longer leads anywhere: the kernel's cached name is older than the tree.
/// ESTALE makes the VFS walk the path again with every name looked up afresh (LOOKUP_REVAL), so an
/// open(O_CREAT) after a delete made elsewhere creates instead of failing.
private func stale(_ code: Int32) -> Int32 { code == ENOENT ? ESTALE : code }

/// The directory of `parent` and the path of `name` in it; nil (after replying) when the directory's
/// id is unknown or its name went away.
private func child(_ req: fuse_req_t?, _ b: FUSEBox, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) -> String? {
    guard let name, let directory = b.nodes.path(parent), directory.attached else {
        replyError(req, ESTALE)
        return nil
    }
    return join(directory.path, name)
}

/// Replies with a new name the kernel will hold (lookup, mkdir).
private func replyEntry(_ req: fuse_req_t?, _ b: FUSEBox, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>, _ a: FUSEAttributes) {
    var entry = fuse_entry_param()
    entry.ino = b.nodes.remember(parent, String(cString: name), size: a.size)
    fill(&entry.attr, a)
    entry.attr_timeout = b.attributeTimeout(a)
    entry.entry_timeout = b.entryTimeout
    if fuse_reply_entry(req, &entry) != 0 { b.nodes.forget(entry.ino, 1) }
}

func corral_ll_init(_ userdata: UnsafeMutableRawPointer?, _ conn: UnsafeMutablePointer<fuse_conn_info>?) {
    guard let conn else { return }
    // O_TRUNC arrives with the open instead of as a separate truncate first: one round trip less
    if conn.pointee.capable & UInt32(FUSE_CAP_ATOMIC_O_TRUNC) != 0 { conn.pointee.want |= UInt32(FUSE_CAP_ATOMIC_O_TRUNC) }
}

func corral_ll_lookup(_ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    let b = begin(req)
    guard let path = child(req, b, parent, name), let name else { return }
    b.gate.reading {
        switch b.fileSystem.getattr(path, fh: nil) {
        case .failure(let e): replyError(req, e.code)
        case .success(let a): replyEntry(req, b, parent, name, a)
        }
    }
}

func corral_ll_forget(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ count: UInt64) {
    box(req).nodes.forget(ino, count)
    fuse_reply_none(req)
}

func corral_ll_forget_multi(_ req: fuse_req_t?, _ count: Int, _ forgets: UnsafeMutablePointer<fuse_forget_data>?) {
    let b = box(req)
    for i in 0..<count {
        if let f = forgets?[i] { b.nodes.forget(f.ino, f.nlookup) }
    }
    fuse_reply_none(req)
}

private func replyAttributes(_ req: fuse_req_t?, _ b: FUSEBox, _ ino: fuse_ino_t, _ path: String, fh: UInt64?) {
    switch b.fileSystem.getattr(path, fh: fh) {
    case .failure(let e): replyError(req, fh == nil ? stale(e.code) : e.code)
    case .success(let a):
        var st = stat()
        fill(&st, a)
        b.nodes.report(ino, size: a.size)
        fuse_reply_attr(req, &st, b.attributeTimeout(a))
    }
}

func corral_ll_getattr(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = begin(req)
    guard let node = b.nodes.path(ino), node.attached || fi != nil else { return replyError(req, ESTALE) }
    replyAttributes(req, b, ino, node.path, fh: fi?.pointee.fh)
}

// utimensat's special nanosecond values (macros Glibc does not export) are not needed here: libfuse
// turns them into FUSE_SET_ATTR_MTIME_NOW.
func corral_ll_setattr(
    _ req: fuse_req_t?, _ ino: fuse_ino_t, _ attr: UnsafeMutablePointer<stat>?, _ toSet: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>?
) {
    let b = begin(req)
    guard let node = b.nodes.path(ino), node.attached || fi != nil, let attr else { return replyError(req, ESTALE) }
    let fh = fi?.pointee.fh
    if toSet & FUSE_SET_ATTR_SIZE != 0 {
        guard attr.pointee.st_size >= 0 else { return replyError(req, EINVAL) }
        if let e = b.fileSystem.truncate(node.path, size: Int(attr.pointee.st_size), fh: fh) {
            return replyError(req, fh == nil ? stale(e.code) : e.code)
        }
    }
    if toSet & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW) != 0 {
        let mtime = toSet & FUSE_SET_ATTR_MTIME_NOW != 0 ? Int(time(nil)) : attr.pointee.st_mtim.tv_sec
        if let e = b.fileSystem.utimens(node.path, mtime: mtime) { return replyError(req, e.code) }
    }
    // modes and owners are fixed by the filesystem: changing them is accepted and has no effect, so
    // `cp -p` and editors that restore modes keep working
    replyAttributes(req, b, ino, node.path, fh: fh)
}

func corral_ll_readlink(_ req: fuse_req_t?, _ ino: fuse_ino_t) {
    let b = begin(req)
    guard let node = b.nodes.path(ino), node.attached else { return replyError(req, ESTALE) }
    switch b.fileSystem.readlink(node.path) {
    case .failure(let e): replyError(req, e.code)
    case .success(let target): fuse_reply_readlink(req, target)
    }
}

func corral_ll_mkdir(_ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ mode: mode_t) {
    let b = begin(req)
    guard let path = child(req, b, parent, name), let name else { return }
    if let e = b.fileSystem.mkdir(path) { return replyError(req, e.code) }
    switch b.fileSystem.getattr(path, fh: nil) {
    case .failure(let e): replyError(req, e.code)
    case .success(let a): replyEntry(req, b, parent, name, a)
    }
}

func corral_ll_unlink(_ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    let b = begin(req)
    guard let path = child(req, b, parent, name), let name else { return }
    if let e = b.fileSystem.unlink(path) { return replyError(req, e.code) }
    b.nodes.detach(parent, String(cString: name))
    replyError(req, 0)
}

func corral_ll_rmdir(_ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?) {
    let b = begin(req)
    guard let path = child(req, b, parent, name), let name else { return }
    if let e = b.fileSystem.rmdir(path) { return replyError(req, e.code) }
    b.nodes.detach(parent, String(cString: name))
    replyError(req, 0)
}

func corral_ll_rename(
    _ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ newParent: fuse_ino_t, _ newName: UnsafePointer<CChar>?,
    _ flags: UInt32
) {
    let b = begin(req)
    guard let from = child(req, b, parent, name), let to = child(req, b, newParent, newName), let name, let newName else { return }
    if let e = b.fileSystem.rename(from, to, flags: flags) { return replyError(req, e.code) }
    b.nodes.move(parent, String(cString: name), to: newParent, String(cString: newName))
    replyError(req, 0)
}

/// Direct I/O for writers (their bytes collect in the handle until the commit), for virtual files, and
/// for readers whose file changed size since the kernel last heard or whose version differs from other
/// readers still open. Other readers share the page cache: an open keeps the cached pages when they
/// hold the version being opened, and otherwise fills them with that version before it replies, so a
/// whole small file is read without any read request.
private func chooseCaching(_ fi: UnsafeMutablePointer<fuse_file_info>, _ b: FUSEBox, _ ino: fuse_ino_t, _ path: String, _ opened: FUSEOpenFile) {
    fi.pointee.direct_io = 1
    fi.pointee.keep_cache = 0
    let reading = fi.pointee.flags & O_ACCMODE == O_RDONLY
    // a reader has nothing to commit: its close needs no flush round trip
    if reading { fi.pointee.noflush = 1 }
    guard reading else { return }
    if b.nodes.reportedSize(ino) != opened.size, let session = OpaquePointer(bitPattern: b.session.load(ordering: .acquiring)) {
        // the kernel's size is older than this copy (a change it has not been told of yet): drop its
        // attributes, so fstat on this descriptor asks (with the handle) and gets the copy's size.
        // Attributes only: no page lock is taken, so this cannot wait for another request.
        fuse_lowlevel_notify_inval_inode(session, ino, -1, 0)
    }
    guard let version = opened.version else { return }
    let admission = b.nodes.admitPageReader(ino, version: version, size: opened.size)
    guard admission.admitted else { return }
    b.pageHandles.withLock { $0[opened.handle] = ino }
    fi.pointee.direct_io = 0
    fi.pointee.keep_cache = admission.keepCache || (admission.alone && fillPages(b, ino, path, opened)) ? 1 : 0
}

/// Stores the handle's copy in the node's page cache (up to 1 MiB; larger files are read on demand).
/// Only while no other page reader is open: then no read request holds a page of this node, and the
/// store cannot wait for a loop thread that is busy.
private func fillPages(_ b: FUSEBox, _ ino: fuse_ino_t, _ path: String, _ opened: FUSEOpenFile) -> Bool {
    guard opened.size > 0, opened.size <= 1 << 20, let session = OpaquePointer(bitPattern: b.session.load(ordering: .acquiring)),
        case .success(let bytes) = b.fileSystem.read(path, fh: opened.handle, size: opened.size, offset: 0), bytes.count == opened.size
    else { return false }
    return bytes.withUnsafeBytes { corral_fuse_notify_store(session, ino, $0.baseAddress, $0.count) } == 0
}

func corral_ll_open(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = begin(req)
    guard let fi else { return replyError(req, EINVAL) }
    guard let node = b.nodes.path(ino), node.attached else { return replyError(req, ESTALE) }
    switch b.fileSystem.open(node.path, flags: fi.pointee.flags) {
    case .failure(let e): replyError(req, stale(e.code))
    case .success(let opened):
        fi.pointee.fh = opened.handle
        // with O_TRUNC the kernel sets its size to 0 itself (atomic_o_trunc)
        if fi.pointee.flags & O_TRUNC != 0 && fi.pointee.flags & O_ACCMODE != O_RDONLY { b.nodes.report(ino, size: 0) }
        chooseCaching(fi, b, ino, node.path, opened)
        if fuse_reply_open(req, fi) != 0 { release(b, ino, node.path, opened.handle) }
    }
}

@discardableResult
private func release(_ b: FUSEBox, _ ino: fuse_ino_t, _ path: String, _ fh: UInt64) -> FUSEErrno? {
    if b.pageHandles.withLock({ $0.removeValue(forKey: fh) }) != nil { b.nodes.releasePageReader(ino) }
    return b.fileSystem.release(path, fh: fh)
}

func corral_ll_create(
    _ req: fuse_req_t?, _ parent: fuse_ino_t, _ name: UnsafePointer<CChar>?, _ mode: mode_t, _ fi: UnsafeMutablePointer<fuse_file_info>?
) {
    let b = begin(req)
    guard let fi else { return replyError(req, EINVAL) }
    guard let path = child(req, b, parent, name), let name else { return }
    switch b.fileSystem.create(path, flags: fi.pointee.flags) {
    case .failure(let e): replyError(req, e.code)
    case .success(let opened):
        guard case .success(let a) = b.fileSystem.getattr(path, fh: opened.handle) else {
            _ = b.fileSystem.release(path, fh: opened.handle)
            return replyError(req, EIO)
        }
        fi.pointee.fh = opened.handle
        fi.pointee.direct_io = 1
        if fi.pointee.flags & O_ACCMODE == O_RDONLY { fi.pointee.noflush = 1 }
        var entry = fuse_entry_param()
        entry.ino = b.nodes.remember(parent, String(cString: name), size: a.size)
        fill(&entry.attr, a)
        entry.attr_timeout = b.attributeTimeout(a)
        entry.entry_timeout = b.entryTimeout
        if fuse_reply_create(req, &entry, fi) != 0 {
            b.nodes.forget(entry.ino, 1)
            _ = b.fileSystem.release(path, fh: opened.handle)
        }
    }
}

func corral_ll_read(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = begin(req)
    guard let fi, let node = b.nodes.path(ino) else { return replyError(req, EBADF) }
    switch b.fileSystem.read(node.path, fh: fi.pointee.fh, size: size, offset: Int(offset)) {
    case .failure(let e): replyError(req, e.code)
    case .success(let bytes):
        // a short read through the page cache sets the kernel's size to where it ended
        if fi.pointee.direct_io == 0 && bytes.count < size { b.nodes.report(ino, size: Int(offset) + bytes.count) }
        bytes.withUnsafeBytes { raw in _ = fuse_reply_buf(req, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count) }
    }
}

func corral_ll_write(
    _ req: fuse_req_t?, _ ino: fuse_ino_t, _ buf: UnsafePointer<CChar>?, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?
) {
    let b = begin(req)
    guard let fi, let buf, let node = b.nodes.path(ino) else { return replyError(req, EBADF) }
    switch b.fileSystem.write(
        node.path, fh: fi.pointee.fh, data: UnsafeRawBufferPointer(start: buf, count: size), offset: Int(offset), lockOwner: fi.pointee.lock_owner)
    {
    case .failure(let e): replyError(req, e.code)
    case .success(let n):
        b.nodes.wrote(ino, end: Int(offset) + n)
        fuse_reply_write(req, n)
    }
}

func corral_ll_flush(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = begin(req)
    guard let fi, let node = b.nodes.path(ino) else { return replyError(req, 0) }
    replyError(req, b.fileSystem.flush(node.path, fh: fi.pointee.fh, lockOwner: fi.pointee.lock_owner)?.code ?? 0)
}

func corral_ll_release(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = begin(req)
    guard let fi else { return replyError(req, 0) }
    replyError(req, release(b, ino, b.nodes.path(ino)?.path ?? "/", fi.pointee.fh)?.code ?? 0)
}

func corral_ll_opendir(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = begin(req)
    guard let fi else { return replyError(req, EINVAL) }
    guard let node = b.nodes.path(ino), node.attached else { return replyError(req, ESTALE) }
    switch b.fileSystem.readdir(node.path) {
    case .failure(let e): replyError(req, stale(e.code))
    case .success(let entries):
        let dots = [FUSEDirectoryEntry(name: ".", kind: .directory, inode: 1), FUSEDirectoryEntry(name: "..", kind: .directory, inode: 1)]
        fi.pointee.fh = b.listings.withLock { l in
            let handle = l.next
            l.next += 1
            l.open[handle] = dots + entries
            return handle
        }
        if fuse_reply_open(req, fi) != 0 { b.listings.withLock { _ = $0.open.removeValue(forKey: fi.pointee.fh) } }
    }
}

func corral_ll_readdir(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = box(req)
    guard let fi, let entries = b.listings.withLock({ $0.open[fi.pointee.fh] }) else { return replyError(req, EBADF) }
    var buffer = [CChar](repeating: 0, count: size)
    var used = 0
    var index = max(0, Int(offset))
    buffer.withUnsafeMutableBufferPointer { out in
        while index < entries.count {
            let entry = entries[index]
            var st = stat()
            st.st_ino = UInt(entry.inode)
            st.st_mode = entry.kind == .directory ? S_IFDIR : entry.kind == .symlink ? S_IFLNK : S_IFREG
            let needed = fuse_add_direntry(req, out.baseAddress! + used, size - used, entry.name, &st, off_t(index + 1))
            if needed > size - used { break }
            used += needed
            index += 1
        }
    }
    fuse_reply_buf(req, buffer, used)
}

func corral_ll_releasedir(_ req: fuse_req_t?, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
    let b = box(req)
    if let fi { b.listings.withLock { _ = $0.open.removeValue(forKey: fi.pointee.fh) } }
    replyError(req, 0)
}

func corral_ll_statfs(_ req: fuse_req_t?, _ ino: fuse_ino_t) {
    let s = begin(req).fileSystem.statfs()
    var st = statvfs()
    st.f_bsize = s.blockSize
    st.f_frsize = s.blockSize
    st.f_blocks = s.blocks
    st.f_bfree = s.freeBlocks
    st.f_bavail = s.freeBlocks
    st.f_files = s.files
    st.f_namemax = s.nameMax
    fuse_reply_statfs(req, &st)
}
