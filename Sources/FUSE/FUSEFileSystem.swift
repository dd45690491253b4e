import Glibc

/// An errno for the kernel (positive; the callbacks negate it).
public struct FUSEErrno: Error, Equatable {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
}

public struct FUSEAttributes: Sendable {
    public enum Kind: Sendable { case file, directory, symlink }
    public var kind: Kind
    /// Permission bits and file type (S_IFREG | 0o640, …).
    public var mode: UInt32
    public var size: Int
    public var mtime: Int
    public var inode: UInt64
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0

    public init(kind: Kind, mode: UInt32, size: Int, mtime: Int, inode: UInt64, uid: UInt32 = 0, gid: UInt32 = 0) {
        self.kind = kind
        self.mode = mode
        self.size = size
        self.mtime = mtime
        self.inode = inode
        self.uid = uid
        self.gid = gid
    }
}

public struct FUSEStatfs: Sendable {
    public var blockSize: UInt
    public var blocks: UInt
    public var freeBlocks: UInt
    public var files: UInt
    public var nameMax: UInt
    public init(blockSize: UInt, blocks: UInt, freeBlocks: UInt, files: UInt, nameMax: UInt) {
        self.blockSize = blockSize
        self.blocks = blocks
        self.freeBlocks = freeBlocks
        self.files = files
        self.nameMax = nameMax
    }
}

/// What a filesystem served through FUSE implements. Called on the FUSE loop thread; paths are absolute
/// within the mount ("/", "/nodes/a"). `fh` is the handle `open`/`create` returned.
public protocol FUSEFileSystem: AnyObject, Sendable {
    func getattr(_ path: String, fh: UInt64?) -> Result<FUSEAttributes, FUSEErrno>
    func readdir(_ path: String) -> Result<[String], FUSEErrno>
    func readlink(_ path: String) -> Result<String, FUSEErrno>
    func mkdir(_ path: String) -> FUSEErrno?
    func unlink(_ path: String) -> FUSEErrno?
    func rmdir(_ path: String) -> FUSEErrno?
    func rename(_ from: String, _ to: String, flags: UInt32) -> FUSEErrno?
    func truncate(_ path: String, size: Int, fh: UInt64?) -> FUSEErrno?
    func open(_ path: String, flags: Int32) -> Result<UInt64, FUSEErrno>
    func create(_ path: String, flags: Int32) -> Result<UInt64, FUSEErrno>
    func read(_ path: String, fh: UInt64, size: Int, offset: Int) -> Result<[UInt8], FUSEErrno>
    /// `lockOwner` identifies the writing process's file table (the kernel sends it with direct I/O).
    func write(_ path: String, fh: UInt64, data: UnsafeRawBufferPointer, offset: Int, lockOwner: UInt64) -> Result<Int, FUSEErrno>
    /// Called on every close of a descriptor (including a forked child's copy); `lockOwner` says whose.
    func flush(_ path: String, fh: UInt64, lockOwner: UInt64) -> FUSEErrno?
    func release(_ path: String, fh: UInt64) -> FUSEErrno?
    func utimens(_ path: String, mtime: Int) -> FUSEErrno?
    func statfs() -> FUSEStatfs
}

public enum FUSERequest {
    /// The uid of the process making the current request. Stands for `fuse_get_context()->uid`.
    public static var callerUID: uid_t { fuseCallerUID() }
}
