import Foundation
import Glibc
import Storage

/// This node's corosync-qdevice: its NSS database made from the cluster's certificates in ClusterFS,
/// starting and stopping it the way the node's corosync is started, and its state. Blocking.
public struct QDeviceService: Sendable {
    public let setup: CorosyncSetup

    public init(setup: CorosyncSetup) { self.setup = setup }

    var nssDirectory: String { setup.qdeviceDirectory + "/nssdb" }
    var installedP12Path: String { setup.qdeviceDirectory + "/cluster.p12" }
    public var socketPath: String { setup.qdeviceRunDirectory + "/corosync-qdevice.sock" }
    var pidPath: String { setup.qdeviceRunDirectory + "/corosync-qdevice.pid" }

    /// Whether the NSS database holds exactly `clusterP12` (what the cluster's files say now).
    public func isInstalled(clusterP12: [UInt8]) -> Bool {
        FileManager.default.contents(atPath: installedP12Path).map(Array.init) == clusterP12
            && FileManager.default.fileExists(atPath: nssDirectory + "/cert9.db")
    }

    /// A new NSS database trusting the witness's CA with the cluster's certificate.
    public func install(caPEM: String, clusterP12: [UInt8]) throws {
        let directory = setup.qdeviceDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let ca = directory + "/qnetd-cacert.crt", p12 = directory + "/cluster.p12.new"
        try CorosyncService.writeAtomically(ca, Array(caPEM.utf8), mode: 0o644)
        try CorosyncService.writeAtomically(p12, clusterP12, mode: 0o600)
        do {
            try NSSDatabase.create(nssDirectory, caCertificate: ca, p12: p12)
        } catch {
            throw ClusterError("cannot make corosync-qdevice's certificate database \(nssDirectory): \(error)")
        }
        // the copy that says which certificate the database holds is written last
        guard rename(p12, installedP12Path) == 0 else { throw ClusterError("cannot write \(installedP12Path)") }
    }

    public func removeFiles() { try? FileManager.default.removeItem(atPath: setup.qdeviceDirectory) }

    public var runningPID: pid_t? {
        if setup.start == .systemd {
            guard (try? Command.execute(["systemctl", "is-active", "--quiet", "corosync-qdevice"]))?.status == 0 else { return nil }
        }
        return Command.runningPID(file: pidPath, program: "corosync-qdevice")
    }

    public func start() throws {
        switch setup.start {
        case .none: return
        case .systemd: try Command.run(["systemctl", "start", "corosync-qdevice"])
        case .direct:
            guard runningPID == nil else { return }
            try FileManager.default.createDirectory(atPath: setup.qdeviceRunDirectory, withIntermediateDirectories: true)
            let options = "net_nss_db_dir=\(nssDirectory)"
            if let run = setup.runDirectory {
                // corosync's IPC and qdevice's own files are under the node's private /run
                _ = try Command.detach(
                    [
                        "unshare", "--mount", "--propagation", "private", "sh", "-c",
                        "mount --bind \"$0\" /run && exec corosync-qdevice -f -S \"$1\"", run, options,
                    ],
                    log: logPath)
            } else {
                _ = try Command.detach(["corosync-qdevice", "-f", "-S", options], log: logPath)
            }
        }
    }

    var logPath: String { (setup.logPath as NSString).deletingLastPathComponent + "/corosync-qdevice.log" }

    public func stop() {
        switch setup.start {
        case .none: return
        case .systemd: _ = try? Command.execute(["systemctl", "stop", "corosync-qdevice"])
        case .direct:
            if let pid = runningPID { Command.terminate(pid, program: "corosync-qdevice") }
        }
    }

    /// What `corosync-qdevice-tool -sv` reports, as `name: value` pairs (PVE's shape).
    public func status() throws -> [String: String] {
        let result: (status: Int32, stdout: String, stderr: String)
        do { result = try Command.execute(["corosync-qdevice-tool", "-s", "-v", "-p", socketPath]) } catch {
            throw ClusterError("corosync-qdevice-tool is not installed on this node (Debian package corosync-qdevice)")
        }
        guard result.status == 0 else {
            throw ClusterError(
                "corosync-qdevice does not answer on this node: \((result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return Self.parseStatus(result.stdout)
    }

    static func parseStatus(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix(" "), !line.hasPrefix("\t") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if !key.isEmpty, !value.isEmpty { out[key] = value }
        }
        return out
    }
}
