internal import CFUSE
import Foundation
import Glibc

/// The thread that tells the kernel about changes made outside the mount. Notifying can wait for a
/// directory lock the kernel holds while one of our own requests is served (an unlink there, say), and
/// that request may itself wait for the very change being announced to be applied (in cluster mode, on
/// the corosync thread), so notifications never run on the thread that applies changes: they are queued
/// here, in order, and `settle` lets a writer outside the loop wait for them.
final class FUSEInvalidations: @unchecked Sendable {
    private let session: UInt
    private let box: FUSEBox
    private let condition = NSCondition()
    private var queue: [(path: String, name: Bool)] = []
    private var queued: UInt64 = 0
    private var finished: UInt64 = 0
    private var running = false
    private var stopped = false
    /// Tests hold notifications back to see what readers get while the kernel's caches are stale.
    private var held = false
    private let ended = DispatchSemaphore(value: 0)

    init(session: UInt, box: FUSEBox) {
        self.session = session
        self.box = box
    }

    func start() {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in run() }
        thread.name = "fuse-inval"
        thread.start()
    }

    /// `name`: the name itself appeared, went away or moved (not only the content changed).
    func enqueue(_ path: String, name: Bool) {
        condition.lock()
        if !stopped {
            queue.append((path, name))
            queued += 1
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Waits (at most 2 s: a kernel stuck elsewhere must not stop the daemon's writers) until every
    /// path queued before the call was notified.
    func settle() {
        condition.lock()
        defer { condition.unlock() }
        let target = queued
        let deadline = Date(timeIntervalSinceNow: 2)
        while running && finished < target {
            if !condition.wait(until: deadline) { return }
        }
    }

    func hold(_ hold: Bool) {
        condition.lock()
        held = hold
        condition.broadcast()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        let wasRunning = running
        stopped = true
        condition.broadcast()
        condition.unlock()
        if wasRunning { _ = ended.wait(timeout: .now() + 5) }
    }

    private func run() {
        let session = OpaquePointer(bitPattern: self.session)
        while true {
            condition.lock()
            while (queue.isEmpty || held) && !stopped { condition.wait() }
            if stopped {
                running = false
                finished = queued
                condition.broadcast()
                condition.unlock()
                ended.signal()
                return
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()

            // every name reply based on the tree before these changes is in the kernel once this returns
            box.gate.pass()
            for (path, name) in batch {
                let ids = box.nodes.ids(of: path)
                if let node = ids.node { _ = fuse_lowlevel_notify_inval_inode(session, node, 0, 0) }
                guard let parent = ids.parent else { continue }
                // the directory's size and mtime changed with any name in it
                if name { _ = fuse_lowlevel_notify_inval_entry(session, parent, ids.name, ids.name.utf8.count) }
                _ = fuse_lowlevel_notify_inval_inode(session, parent, -1, 0)
            }

            condition.lock()
            finished += UInt64(batch.count)
            condition.broadcast()
            condition.unlock()
        }
    }
}
