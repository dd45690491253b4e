internal import CFUSE
import Foundation
import Glibc
import Synchronization

/// A filesystem mounted through libfuse3's low-level API, served by a loop of our own on a few threads
/// (`corral_fuse_session_loop` in the CFUSE shim: one leader waits, spinning briefly before it sleeps).
///
/// The kernel keeps names and attributes for `entryTimeout`/`attributeTimeout` (attributes marked
/// `volatile`, which change without anyone calling `invalidate`, for `volatileAttributeTimeout`). Whoever changes the tree
/// outside the mount calls `invalidate` for each path it touched; a thread of the mount's own tells the
/// kernel (notify_inval_entry on the directory's id, notify_inval_inode on the file's), and `settle`
/// waits until it has, so a change the daemon made is seen through the mount once the call returns.
public final class FUSEMount: @unchecked Sendable {
    private let session: OpaquePointer
    private let box: Unmanaged<FUSEBox>
    private let invalidations: FUSEInvalidations
    public let mountpoint: String
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private var mounted = false
    private let maxThreads: UInt32

    /// Creates the session and mounts it. Stands for `fuse_session_new` + `fuse_session_mount`.
    /// `options` are mount options such as `allow_other`, `default_permissions`.
    public init(
        fileSystem: any FUSEFileSystem, mountpoint: String, options: [String] = [], attributeTimeout: Double = 0,
        volatileAttributeTimeout: Double = 0, entryTimeout: Double = 0, maxThreads: Int = 4
    ) throws {
        self.mountpoint = mountpoint
        self.maxThreads = UInt32(max(1, maxThreads))
        let box = Unmanaged.passRetained(
            FUSEBox(
                fileSystem, attributeTimeout: attributeTimeout, volatileAttributeTimeout: volatileAttributeTimeout, entryTimeout: entryTimeout))
        self.box = box
        var operations = fuse_lowlevel_ops()
        operations.`init` = corral_ll_init
        operations.lookup = corral_ll_lookup
        operations.forget = corral_ll_forget
        operations.forget_multi = corral_ll_forget_multi
        operations.getattr = corral_ll_getattr
        operations.setattr = corral_ll_setattr
        operations.readlink = corral_ll_readlink
        operations.mkdir = corral_ll_mkdir
        operations.unlink = corral_ll_unlink
        operations.rmdir = corral_ll_rmdir
        operations.rename = corral_ll_rename
        operations.open = corral_ll_open
        operations.create = corral_ll_create
        operations.read = corral_ll_read
        operations.write = corral_ll_write
        operations.flush = corral_ll_flush
        operations.release = corral_ll_release
        operations.opendir = corral_ll_opendir
        operations.readdir = corral_ll_readdir
        operations.releasedir = corral_ll_releasedir
        operations.statfs = corral_ll_statfs

        var arguments = ["corrald"] + (options.isEmpty ? [] : ["-o", options.joined(separator: ",")])
        var cStrings = arguments.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let created: OpaquePointer? = cStrings.withUnsafeMutableBufferPointer { buffer in
            var args = fuse_args(argc: Int32(buffer.count), argv: buffer.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            return corral_fuse_session_new(&args, &operations, box.toOpaque())
        }
        arguments.removeAll()
        guard let created else {
            box.release()
            throw FUSEErrno(EINVAL)
        }
        session = created
        box.takeUnretainedValue().session.store(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(created))), ordering: .releasing)
        guard fuse_session_mount(session, mountpoint) == 0 else {
            let code = errno == 0 ? EIO : errno
            fuse_session_destroy(session)
            box.release()
            throw FUSEErrno(code)
        }
        invalidations = FUSEInvalidations(session: UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(created))), box: box.takeUnretainedValue())
        mounted = true
    }

    /// Starts serving requests on `maxThreads` threads. A thread that has just answered a request spins
    /// 50 µs on the device before it sleeps: waking a thread whose virtual CPU went idle costs more than
    /// a request.
    public func start() {
        let session = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(self.session)))
        let done = self.done
        let maxThreads = self.maxThreads
        let thread = Thread {
            _ = corral_fuse_session_loop(OpaquePointer(bitPattern: session), maxThreads, 50_000)
            done.signal()
        }
        thread.name = "fuse"
        self.thread = thread
        thread.start()
        invalidations.start()
    }

    /// Tells the kernel that `path` (absolute in the mount) changed outside the mount: its cached
    /// attributes and its directory's are dropped, and with `name` (it was made, removed or renamed)
    /// the cached name too. Queued; returns at once.
    public func invalidate(_ path: String, name: Bool = false) {
        guard mounted else { return }
        invalidations.enqueue(path, name: name)
    }

    /// Waits until the kernel has processed every invalidation queued so far. Returns at once on a
    /// loop thread, which must never wait for the kernel (it may hold a lock that request is part of).
    public func settle() {
        guard mounted, !FUSEThread.isLoopThread else { return }
        invalidations.settle()
    }

    /// Holds notifications back (tests: what readers get while the kernel's caches are stale).
    func holdInvalidations(_ hold: Bool) { invalidations.hold(hold) }

    /// Node ids the kernel holds (for tests).
    public var knownNodes: Int { box.takeUnretainedValue().nodes.count }

    /// Unmounts and waits for the loop to end. Stands for `fuse_session_exit` + `fuse_session_unmount` +
    /// `fuse_session_destroy`.
    public func unmount() {
        guard mounted else { return }
        mounted = false
        invalidations.stop()
        fuse_session_exit(session)
        fuse_session_unmount(session)
        if thread != nil { _ = done.wait(timeout: .now() + 5) }
        fuse_session_destroy(session)
        box.release()
    }

    deinit { unmount() }
}
