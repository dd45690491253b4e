import Foundation
import Glibc

/// The one store of cluster configuration every domain reads and writes (users, storages, guests,
/// jobs): the cluster filesystem in-process (the daemon), or its mount at /etc/pve (the CLIs, which
/// like PVE's tools write through the mount). Its failures are `ClusterFSError`s.
public protocol ConfigTree: Sendable {
    func read(_ path: String) throws -> [UInt8]
    func write(_ path: String, _ data: [UInt8], mtime: UInt32?) throws
    /// A number that changes whenever the file does (for caches), and its mtime.
    func stamp(_ path: String) throws -> (version: UInt64, mtime: UInt32)
    /// A number that changes whenever any file does, where that is cheap to know (nil: ask `stamp`).
    var treeVersion: UInt64? { get }
    func setMtime(_ path: String, _ mtime: UInt32) throws
    /// Takes the cluster lock `name` (mkdir of priv/lock/NAME); false while someone holds it.
    func tryLock(_ name: String) throws -> Bool
    func unlock(_ name: String)
    /// Creates a file that must not exist yet (a guest's config is how its VMID is reserved).
    func create(_ path: String, _ data: [UInt8]) throws
    func delete(_ path: String) throws
    /// Makes a directory (its parent must exist).
    func mkdir(_ path: String) throws
    /// Moves a file in one step (a guest's config to another node's directory: its migration).
    func rename(_ from: String, to: String) throws
}

extension ConfigTree {
    public var treeVersion: UInt64? { nil }
    public func readString(_ path: String) throws -> String { String(decoding: try read(path), as: UTF8.self) }
    public func write(_ path: String, _ data: [UInt8]) throws { try write(path, data, mtime: nil) }
    public func exists(_ path: String) -> Bool { (try? stamp(path)) != nil }

    /// Runs `body` holding the cluster lock `name`, waiting up to `timeout` seconds for it.
    public func withLock<T>(_ name: String, timeout: Double = 5, _ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        while try !tryLock(name) {
            guard Date() < deadline else { throw ClusterFSError(EBUSY, "the cluster lock '\(name)' stays taken; try again later") }
            usleep(50_000)
        }
        defer { unlock(name) }
        return try body()
    }
}

extension ClusterFS: ConfigTree {
    public var treeVersion: UInt64? { version }

    public func stamp(_ path: String) throws -> (version: UInt64, mtime: UInt32) {
        let info = try stat(path)
        return (info.version, info.mtime)
    }

    public func tryLock(_ name: String) throws -> Bool {
        do {
            try acquireLock(name)
            return true
        } catch let error as ClusterFSError where error.errno == EEXIST {
            return false
        }
    }

    public func unlock(_ name: String) { try? releaseLock(name) }
}

/// The cluster filesystem through its mount point.
public struct MountedTree: ConfigTree {
    public let root: String

    public init(root: String) { self.root = root }

    private func full(_ path: String) -> String { root + "/" + path }

    private static func failure(_ what: String, _ path: String) -> ClusterFSError {
        ClusterFSError(errno, "\(what) \(path): \(String(cString: strerror(errno)))")
    }

    public func rename(_ from: String, to: String) throws {
        guard Glibc.rename(full(from), full(to)) == 0 else { throw Self.failure("cannot rename", full(from)) }
    }

    public func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: full(path)) else { throw Self.failure("cannot read", full(path)) }
        return Array(data)
    }

    /// Written to a temporary name and renamed over the file: readers see the old or the new file.
    public func write(_ path: String, _ data: [UInt8], mtime: UInt32?) throws {
        let target = full(path), temp = target + ".tmp.\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create", temp) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let closed = close(fd)
        guard written == data.count, closed == 0 else {
            unlink(temp)
            throw Self.failure("cannot write", target)
        }
        guard Glibc.rename(temp, target) == 0 else {
            unlink(temp)
            throw Self.failure("cannot replace", target)
        }
        if let mtime { try setMtime(path, mtime) }
    }

    public func stamp(_ path: String) throws -> (version: UInt64, mtime: UInt32) {
        var st = Glibc.stat()
        guard lstat(full(path), &st) == 0 else { throw Self.failure("cannot stat", full(path)) }
        var hash = UInt64(st.st_mtim.tv_sec) &* 1_000_000_007 ^ UInt64(st.st_mtim.tv_nsec) ^ UInt64(st.st_size) << 32 ^ UInt64(st.st_ino)
        if hash == 0 { hash = 1 }
        return (hash, UInt32(truncatingIfNeeded: st.st_mtim.tv_sec))
    }

    public func setMtime(_ path: String, _ mtime: UInt32) throws {
        var times = [timespec(tv_sec: Int(mtime), tv_nsec: 0), timespec(tv_sec: Int(mtime), tv_nsec: 0)]
        guard utimensat(AT_FDCWD, full(path), &times, 0) == 0 else { throw Self.failure("cannot set the time of", full(path)) }
    }

    public func tryLock(_ name: String) throws -> Bool {
        if Glibc.mkdir(full("priv/lock/" + name), 0o700) == 0 { return true }
        if errno == EEXIST { return false }
        throw Self.failure("cannot take the lock", full("priv/lock/" + name))
    }

    public func unlock(_ name: String) { rmdir(full("priv/lock/" + name)) }

    public func create(_ path: String, _ data: [UInt8]) throws {
        let fd = open(full(path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            if errno == EEXIST { throw ClusterFSError(EEXIST, "\(path) already exists") }
            throw Self.failure("cannot create", full(path))
        }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard close(fd) == 0, written == data.count else {
            unlink(full(path))
            throw Self.failure("cannot write", full(path))
        }
    }

    public func mkdir(_ path: String) throws {
        guard Glibc.mkdir(full(path), 0o755) == 0 else { throw Self.failure("cannot create directory", full(path)) }
    }

    public func delete(_ path: String) throws {
        guard unlink(full(path)) == 0 || errno == ENOENT else { throw Self.failure("cannot remove", full(path)) }
    }
}
