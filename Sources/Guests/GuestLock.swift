import Errors
import Foundation
import Glibc

/// The node-local lock of one guest: an flock on `<directory>/<vmid>.lock`, so the daemon's tasks and
/// the CLIs on the node exclude each other. Operations on different guests never wait for each other;
/// operations on one guest queue for a bounded time, and then fail naming what holds the lock
/// (instead of PVE's bare "can't lock file … got timeout").
public struct GuestLock: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public struct Busy: Error, CustomStringConvertible {
        public let vmid: Int
        public let holder: String
        public let waited: Double
        public var description: String {
            "VM \(vmid) is busy: \(holder.isEmpty ? "another operation" : "'\(holder)'") held its lock for the \(Int(waited)) s this operation waited; try again when it has finished"
        }
    }

    /// Runs `body` holding the lock of `vmid`: exclusive, or shared (several readers of an immutable
    /// guest, such as clones of one template, run side by side).
    public func with<T: Sendable>(
        _ vmid: Int, shared: Bool = false, timeout: Double = 60, what: String, _ body: () async throws -> T
    ) async throws -> T {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(vmid).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GuestLockError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let start = Date()
        var delay: UInt64 = 5_000_000
        while flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw GuestLockError("cannot lock \(path): \(String(cString: strerror(errno)))") }
            let waited = Date().timeIntervalSince(start)
            if waited >= timeout {
                throw Busy(
                    vmid: vmid, holder: (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "",
                    waited: waited)
            }
            try await Task.sleep(nanoseconds: delay)
            delay = min(delay * 2, 100_000_000)
        }
        if !shared {
            // says who holds the lock, for the message of whoever waits on it
            ftruncate(fd, 0)
            let note = Array((what + "\n").utf8)
            _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}

public struct GuestLockError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Undo steps of a multi-step change: each step registers how to take itself back; on failure they
/// run newest first, and every one runs even if an earlier one failed.
public final class Reverter: @unchecked Sendable {
    private var steps: [(String, () throws -> Void)] = []
    private let lock = NSLock()

    public init() {}

    public func add(_ what: String, _ undo: @escaping () throws -> Void) {
        lock.lock()
        steps.append((what, undo))
        lock.unlock()
    }

    /// Drops the undo steps: the change is complete.
    public func succeed() {
        lock.lock()
        steps.removeAll()
        lock.unlock()
    }

    /// Runs the undo steps newest first; returns the messages of those that failed.
    @discardableResult
    public func revert(log: (String) -> Void = { _ in }) -> [String] {
        lock.lock()
        let pending = steps.reversed()
        steps.removeAll()
        lock.unlock()
        var failures: [String] = []
        for (what, undo) in pending {
            do {
                try undo()
                log("undo: \(what)")
            } catch {
                failures.append("\(what): \(error)")
                log("undo failed: \(what): \(error)")
            }
        }
        return failures
    }
}

/// A lock held too long is a failed request in PVE (`die` after its timeout): 500.
extension GuestLock.Busy: CorralError {
    public var code: ErrorCode { .failed }
    public var message: String { description }
}
