internal import CFUSE
import Glibc

// The C callbacks libfuse calls, as plain functions (a closure in main.swift would be main-actor
// isolated and crash on FUSE's thread, see RUNBOOK). Each finds the Swift filesystem in the context's
// private data and turns its result into libfuse's convention (0 or -errno).

func fuseFileSystem() -> any FUSEFileSystem {
    Unmanaged<FUSEBox>.fromOpaque(fuse_get_context()!.pointee.private_data).takeUnretainedValue().fileSystem
}

final class FUSEBox {
    let fileSystem: any FUSEFileSystem
    let attributeTimeout: Double
    init(_ fs: any FUSEFileSystem, attributeTimeout: Double) {
        fileSystem = fs
        self.attributeTimeout = attributeTimeout
    }
}

private func path(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "/" }

private func status(_ error: FUSEErrno?) -> Int32 { error.map { -$0.code } ?? 0 }

private func handle(_ fi: UnsafeMutablePointer<fuse_file_info>?) -> UInt64? { fi?.pointee.fh }

func corral_fuse_init(_ conn: UnsafeMutablePointer<fuse_conn_info>?, _ cfg: UnsafeMutablePointer<fuse_config>?) -> UnsafeMutableRawPointer? {
    if let cfg {
        // every read and write reaches us, and names are looked up each time: the tree changes under
        // the kernel. Attributes may be cached; the owner invalidates them on changes made elsewhere.
        let box = Unmanaged<FUSEBox>.fromOpaque(fuse_get_context()!.pointee.private_data).takeUnretainedValue()
        cfg.pointee.direct_io = 1
        cfg.pointee.attr_timeout = box.attributeTimeout
        cfg.pointee.entry_timeout = 0
        cfg.pointee.negative_timeout = 0
        cfg.pointee.use_ino = 1
        cfg.pointee.hard_remove = 1
    }
    return fuse_get_context()!.pointee.private_data
}

func corral_fuse_getattr(_ p: UnsafePointer<CChar>?, _ st: UnsafeMutablePointer<stat>?, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
    switch fuseFileSystem().getattr(path(p), fh: handle(fi)) {
    case .failure(let e): return -e.code
    case .success(let a):
        guard let st else { return -EINVAL }
        memset(st, 0, MemoryLayout<stat>.size)
        st.pointee.st_mode = a.mode
        st.pointee.st_nlink = a.kind == .directory ? 2 : 1
        st.pointee.st_size = a.size
        st.pointee.st_ino = UInt(a.inode)
        st.pointee.st_uid = a.uid
        st.pointee.st_gid = a.gid
        st.pointee.st_blksize = 4096
        st.pointee.st_blocks = (a.size + 511) / 512
        st.pointee.st_mtim.tv_sec = a.mtime
        st.pointee.st_ctim.tv_sec = a.mtime
        st.pointee.st_atim.tv_sec = a.mtime
        return 0
    }
}

func corral_fuse_readdir(
    _ p: UnsafePointer<CChar>?, _ buf: UnsafeMutableRawPointer?, _ filler: fuse_fill_dir_t?, _ offset: off_t,
    _ fi: UnsafeMutablePointer<fuse_file_info>?, _ flags: fuse_readdir_flags
) -> Int32 {
    switch fuseFileSystem().readdir(path(p)) {
    case .failure(let e): return -e.code
    case .success(let names):
        guard let filler else { return -EIO }
        for name in [".", ".."] + names {
            if filler(buf, name, nil, 0, fuse_fill_dir_flags(rawValue: 0)) != 0 { break }
        }
        return 0
    }
}

func corral_fuse_readlink(_ p: UnsafePointer<CChar>?, _ buf: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    switch fuseFileSystem().readlink(path(p)) {
    case .failure(let e): return -e.code
    case .success(let target):
        guard let buf, size > 0 else { return -EINVAL }
        let bytes = Array(target.utf8.prefix(size - 1))
        for (i, b) in bytes.enumerated() { buf[i] = CChar(bitPattern: b) }
        buf[bytes.count] = 0
        return 0
    }
}

func corral_fuse_mkdir(_ p: UnsafePointer<CChar>?, _ mode: mode_t) -> Int32 { status(fuseFileSystem().mkdir(path(p))) }
func corral_fuse_unlink(_ p: UnsafePointer<CChar>?) -> Int32 { status(fuseFileSystem().unlink(path(p))) }
func corral_fuse_rmdir(_ p: UnsafePointer<CChar>?) -> Int32 { status(fuseFileSystem().rmdir(path(p))) }

func corral_fuse_rename(_ from: UnsafePointer<CChar>?, _ to: UnsafePointer<CChar>?, _ flags: UInt32) -> Int32 {
    status(fuseFileSystem().rename(path(from), path(to), flags: flags))
}

// Modes and owners are fixed by the filesystem (root:www-data, 0640/0755, priv 0700): changing them is
// accepted and has no effect, so `cp -p` and editors that restore modes keep working.
func corral_fuse_chmod(_ p: UnsafePointer<CChar>?, _ mode: mode_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 { 0 }
func corral_fuse_chown(_ p: UnsafePointer<CChar>?, _ uid: uid_t, _ gid: gid_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 { 0 }

func corral_fuse_truncate(_ p: UnsafePointer<CChar>?, _ size: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
    guard size >= 0 else { return -EINVAL }
    return status(fuseFileSystem().truncate(path(p), size: Int(size), fh: handle(fi)))
}

func corral_fuse_open(_ p: UnsafePointer<CChar>?, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
    guard let fi else { return -EINVAL }
    switch fuseFileSystem().open(path(p), flags: fi.pointee.flags) {
    case .failure(let e): return -e.code
    case .success(let fh):
        fi.pointee.fh = fh
        // a reader has nothing to commit: its close needs no FLUSH round trip
        if fi.pointee.flags & O_ACCMODE == O_RDONLY { fi.pointee.noflush = 1 }
        return 0
    }
}

func corral_fuse_create(_ p: UnsafePointer<CChar>?, _ mode: mode_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
    guard let fi else { return -EINVAL }
    switch fuseFileSystem().create(path(p), flags: fi.pointee.flags) {
    case .failure(let e): return -e.code
    case .success(let fh):
        fi.pointee.fh = fh
        return 0
    }
}

func corral_fuse_read(
    _ p: UnsafePointer<CChar>?, _ buf: UnsafeMutablePointer<CChar>?, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?
) -> Int32 {
    guard let fi, let buf else { return -EINVAL }
    switch fuseFileSystem().read(path(p), fh: fi.pointee.fh, size: size, offset: Int(offset)) {
    case .failure(let e): return -e.code
    case .success(let bytes):
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress { memcpy(buf, base, bytes.count) }
        }
        return Int32(bytes.count)
    }
}

func corral_fuse_write(
    _ p: UnsafePointer<CChar>?, _ buf: UnsafePointer<CChar>?, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?
) -> Int32 {
    guard let fi, let buf else { return -EINVAL }
    switch fuseFileSystem().write(
        path(p), fh: fi.pointee.fh, data: UnsafeRawBufferPointer(start: buf, count: size), offset: Int(offset), lockOwner: fi.pointee.lock_owner)
    {
    case .failure(let e): return -e.code
    case .success(let n): return Int32(n)
    }
}

func corral_fuse_flush(_ p: UnsafePointer<CChar>?, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
    guard let fi else { return 0 }
    return status(fuseFileSystem().flush(path(p), fh: fi.pointee.fh, lockOwner: fi.pointee.lock_owner))
}

func corral_fuse_release(_ p: UnsafePointer<CChar>?, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
    guard let fi else { return 0 }
    return status(fuseFileSystem().release(path(p), fh: fi.pointee.fh))
}

// utimensat's special nanosecond values (macros Glibc does not export)
private let utimeNow = (1 << 30) - 1
private let utimeOmit = (1 << 30) - 2

func corral_fuse_utimens(_ p: UnsafePointer<CChar>?, _ tv: UnsafePointer<timespec>?, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
    var mtime = Int(time(nil))
    if let tv, tv[1].tv_nsec == utimeOmit { return 0 }
    if let tv, tv[1].tv_nsec != utimeNow { mtime = tv[1].tv_sec }
    return status(fuseFileSystem().utimens(path(p), mtime: mtime))
}

func corral_fuse_statfs(_ p: UnsafePointer<CChar>?, _ st: UnsafeMutablePointer<statvfs>?) -> Int32 {
    guard let st else { return -EINVAL }
    let s = fuseFileSystem().statfs()
    memset(st, 0, MemoryLayout<statvfs>.size)
    st.pointee.f_bsize = s.blockSize
    st.pointee.f_frsize = s.blockSize
    st.pointee.f_blocks = s.blocks
    st.pointee.f_bfree = s.freeBlocks
    st.pointee.f_bavail = s.freeBlocks
    st.pointee.f_files = s.files
    st.pointee.f_namemax = s.nameMax
    return 0
}

func fuseCallerUID() -> uid_t { fuse_get_context()?.pointee.uid ?? uid_t.max }
