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
    /// Changes without an `invalidate` (generated content): the kernel keeps these attributes only briefly.
    public var volatile = false

    public init(kind: Kind, mode: UInt32, size: Int, mtime: Int, inode: UInt64, uid: UInt32 = 0, gid: UInt32 = 0, volatile: Bool = false) {
        self.kind = kind
        self.mode = mode
        self.size = size
        self.mtime = mtime
        self.inode = inode
        self.uid = uid
        self.gid = gid
        self.volatile = volatile
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

/// What `open` and `create` return: the handle, the size of what reads through it will see, and the
/// version of that content. A reader with a version may be served through the kernel's page cache,
/// which readers of the same version share; nil keeps every read of the handle coming to the filesystem.
public struct FUSEOpenFile: Sendable {
    public var handle: UInt64
    public var size: Int
    public var version: UInt64?
    public init(handle: UInt64, size: Int, version: UInt64?) {
        self.handle = handle
        self.size = size
        self.version = version
    }
}

/// One name in a directory listing, with what `ls` learns without a stat.
public struct FUSEDirectoryEntry: Sendable {
    public var name: String
    public var kind: FUSEAttributes.Kind
    public var inode: UInt64
    public init(name: String, kind: FUSEAttributes.Kind, inode: UInt64) {
        self.name = name
        self.kind = kind
        self.inode = inode
    }
}

/// What a filesystem served through FUSE implements. Called on the FUSE loop's threads, several at a
/// time; paths are absolute within the mount ("/", "/nodes/a"). `fh` is the handle `open`/`create`
/// returned.
public protocol FUSEFileSystem: AnyObject, Sendable {
    func getattr(_ path: String, fh: UInt64?) -> Result<FUSEAttributes, FUSEErrno>
    func readdir(_ path: String) -> Result<[FUSEDirectoryEntry], FUSEErrno>
    func readlink(_ path: String) -> Result<String, FUSEErrno>
    func mkdir(_ path: String) -> FUSEErrno?
    func unlink(_ path: String) -> FUSEErrno?
    func rmdir(_ path: String) -> FUSEErrno?
    func rename(_ from: String, _ to: String, flags: UInt32) -> FUSEErrno?
    func truncate(_ path: String, size: Int, fh: UInt64?) -> FUSEErrno?
    func open(_ path: String, flags: Int32) -> Result<FUSEOpenFile, FUSEErrno>
    func create(_ path: String, flags: Int32) -> Result<FUSEOpenFile, FUSEErrno>
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
    /// The uid of the process making the current request (`uid_t.max` outside one). Stands for
    /// `fuse_req_ctx(req)->uid`.
    public static var callerUID: uid_t { FUSEThread.callerUID }

    /// Whether this thread serves FUSE requests: such a thread must never wait for the kernel's
    /// caches to be invalidated (the kernel may hold a lock that request is part of).
    public static var onLoopThread: Bool { FUSEThread.isLoopThread }
}

/// The request a loop thread is serving, kept per thread (libfuse makes the threads).
enum FUSEThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Marks the calling thread as a loop thread serving a request from `uid`.
    static func begin(uid: uid_t) { pthread_setspecific(key, UnsafeRawPointer(bitPattern: UInt(uid) + 1)) }

    static var callerUID: uid_t {
        guard let value = pthread_getspecific(key) else { return uid_t.max }
        return uid_t(truncatingIfNeeded: UInt(bitPattern: value) - 1)
    }

    static var isLoopThread: Bool { pthread_getspecific(key) != nil }
}
