internal import CFUSE
import Foundation
import Glibc
import Synchronization

/// A filesystem mounted through libfuse3, served by one thread of its own running `fuse_loop`.
public final class FUSEMount: @unchecked Sendable {
    private let fuse: OpaquePointer
    private let box: Unmanaged<FUSEBox>
    public let mountpoint: String
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private var mounted = false
    private let loopThread = ThreadIdentity()

    /// Creates the FUSE instance and mounts it. Stands for `fuse_new` + `fuse_mount`. `options` are
    /// mount options such as `allow_other`, `default_permissions`. With `attributeTimeout` > 0 the kernel
    /// caches attributes that long, and whoever changes the tree outside FUSE calls `invalidate`.
    public init(fileSystem: any FUSEFileSystem, mountpoint: String, options: [String] = [], attributeTimeout: Double = 0) throws {
        self.mountpoint = mountpoint
        let box = Unmanaged.passRetained(FUSEBox(fileSystem, attributeTimeout: attributeTimeout))
        self.box = box
        var operations = fuse_operations()
        operations.`init` = corral_fuse_init
        operations.getattr = corral_fuse_getattr
        operations.readdir = corral_fuse_readdir
        operations.readlink = corral_fuse_readlink
        operations.mkdir = corral_fuse_mkdir
        operations.unlink = corral_fuse_unlink
        operations.rmdir = corral_fuse_rmdir
        operations.rename = corral_fuse_rename
        operations.chmod = corral_fuse_chmod
        operations.chown = corral_fuse_chown
        operations.truncate = corral_fuse_truncate
        operations.open = corral_fuse_open
        operations.create = corral_fuse_create
        operations.read = corral_fuse_read
        operations.write = corral_fuse_write
        operations.flush = corral_fuse_flush
        operations.release = corral_fuse_release
        operations.utimens = corral_fuse_utimens
        operations.statfs = corral_fuse_statfs

        var arguments = ["corrald"] + (options.isEmpty ? [] : ["-o", options.joined(separator: ",")])
        var cStrings = arguments.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let created: OpaquePointer? = cStrings.withUnsafeMutableBufferPointer { buffer in
            var args = fuse_args(argc: Int32(buffer.count), argv: buffer.baseAddress, allocated: 0)
            return corral_fuse_new(&args, &operations, box.toOpaque())
        }
        arguments.removeAll()
        guard let created else {
            box.release()
            throw FUSEErrno(EINVAL)
        }
        fuse = created
        guard fuse_mount(fuse, mountpoint) == 0 else {
            fuse_destroy(fuse)
            box.release()
            throw FUSEErrno(errno == 0 ? EIO : errno)
        }
        mounted = true
    }

    /// Starts serving requests on a dedicated thread. Stands for `fuse_loop`.
    public func start() {
        let fuse = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(self.fuse)))
        let done = self.done
        let loopThread = self.loopThread
        let thread = Thread {
            loopThread.value.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .releasing)
            _ = fuse_loop(OpaquePointer(bitPattern: fuse))
            done.signal()
        }
        thread.name = "fuse"
        self.thread = thread
        thread.start()
    }

    /// Drops the kernel's cached attributes of `path` (absolute in the mount). A no-op on the loop
    /// thread itself: a change made through FUSE is known to the kernel, and notifying from inside a
    /// request can deadlock. Stands for `fuse_invalidate_path`.
    public func invalidate(_ path: String) {
        guard mounted, loopThread.value.load(ordering: .acquiring) != UInt(bitPattern: Int(bitPattern: pthread_self())) else { return }
        _ = fuse_invalidate_path(fuse, path)
    }

    /// Unmounts and waits for the loop to end. Stands for `fuse_exit` + `fuse_unmount` + `fuse_destroy`.
    public func unmount() {
        guard mounted else { return }
        mounted = false
        fuse_exit(fuse)
        fuse_unmount(fuse)
        if thread != nil { _ = done.wait(timeout: .now() + 5) }
        fuse_destroy(fuse)
        box.release()
    }

    deinit { unmount() }
}

/// The FUSE loop's thread, shared with the closure that runs it.
final class ThreadIdentity: Sendable {
    let value = Atomic<UInt>(0)
}
