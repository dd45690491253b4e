import Errors
import Foundation
import Glibc
import Storage
import TLS

/// This node's corosync: its configuration and key files, starting and reloading it, and asking
/// corrald to restart into (or out of) cluster mode. Blocking: runs on the blocking executor.
public struct CorosyncService: Sendable {
    public let setup: CorosyncSetup

    public init(setup: CorosyncSetup) { self.setup = setup }

    /// Whether this node has a cluster configuration of its own (what makes corrald start in
    /// cluster mode).
    public var isConfigured: Bool { FileManager.default.fileExists(atPath: setup.configPath) }

    /// The node's copy of the cluster's `corosync.conf`, as last installed.
    public var installedText: String? { try? String(contentsOfFile: setup.configPath, encoding: .utf8) }

    /// Writes the node's copy of `clusterText` (by rename, so corosync never reads half a file).
    public func install(_ clusterText: String) throws {
        try Self.writeAtomically(setup.configPath, Array(try setup.localCopy(of: clusterText).utf8), mode: 0o644)
    }

    public func installKey(_ key: [UInt8]) throws { try Self.writeAtomically(setup.authkeyPath, key, mode: 0o400) }

    public func readKey() throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: setup.authkeyPath) else {
            throw ClusterError("cannot read the corosync key \(setup.authkeyPath)")
        }
        return Array(data)
    }

    /// A new random key (as corosync-keygen writes: 256 bytes).
    public static func newKey() throws -> [UInt8] {
        do { return try Digest.randomBytes(256) } catch { throw ClusterError("cannot make random bytes for the corosync key: \(error)") }
    }

    /// The pid corosync's pid file names, if that process runs.
    public var runningPID: pid_t? {
        let path = (setup.start == .direct ? setup.runDirectory : nil).map { $0 + "/corosync.pid" } ?? "/run/corosync.pid"
        return Command.runningPID(file: path, program: "corosync")
    }

    /// Starts corosync unless it runs.
    public func start() throws {
        switch setup.start {
        case .none: return
        case .systemd: try Command.run(["systemctl", "start", "corosync"])
        case .direct:
            guard runningPID == nil else { return }
            if let stateDirectory = setup.stateDirectory {
                try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            }
            try FileManager.default.createDirectory(
                atPath: (setup.logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if let run = setup.runDirectory {
                try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
                _ = try Command.detach(
                    [
                        "unshare", "--mount", "--propagation", "private", "sh", "-c", "mount --bind \"$0\" /run && exec corosync -f -c \"$1\"", run,
                        setup.configPath,
                    ], log: setup.logPath)
            } else {
                _ = try Command.detach(["corosync", "-f", "-c", setup.configPath], log: setup.logPath)
            }
        }
    }

    /// Stops corosync (leaving the cluster at once rather than after the token timeout).
    public func stop() {
        switch setup.start {
        case .none: return
        case .systemd: _ = try? Command.execute(["systemctl", "stop", "corosync"])
        case .direct:
            if let pid = runningPID { Command.terminate(pid, program: "corosync") }
        }
    }

    /// Tells the running corosync to read its configuration again.
    public func reload() throws { try Command.run(["corosync-cfgtool", "-R"]) }

    /// Asks the running corrald to restart (SIGHUP: finish requests, then exec itself again).
    public func requestDaemonRestart(after delay: Double = 0) {
        guard let text = try? String(contentsOfFile: setup.pidFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0
        else { return }
        // another process (pvecm) signals now: it may exit before a delay ends
        if delay <= 0 || pid != getpid() {
            kill(pid, SIGHUP)
        } else {
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { kill(pid, SIGHUP) }
        }
    }

    /// Moves the node's corosync files aside (`.removed-<time>`): the node is standalone at its next start.
    public func removeConfiguration() {
        let stamp = Int(time(nil))
        for path in [setup.configPath, setup.authkeyPath] where FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.moveItem(atPath: path, toPath: "\(path).removed-\(stamp)")
        }
    }

    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temp = path + ".tmp.\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ClusterError("cannot write \(temp): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        guard written == bytes.count, fsync(fd) == 0, close(fd) == 0, rename(temp, path) == 0 else {
            unlink(temp)
            throw ClusterError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// A cluster operation that cannot be done, with what to do about it.
public struct ClusterError: CorralError {
    public let code: ErrorCode
    public let message: String
    public init(_ message: String, code: ErrorCode = .failed) {
        self.message = message
        self.code = code
    }
}
