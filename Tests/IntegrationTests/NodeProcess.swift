import Foundation
import Glibc
import TLS
import TestSupport

/// A real corrald process on a loopback port, with its own data directory.
final class NodeProcess: @unchecked Sendable {
    let process = Process()
    let dataDirectory: String
    let nodeName: String
    private(set) var port: UInt16 = 0

    static var buildDirectory: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/.build/debug"
    }

    static var repository: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// `networkNamespace`: cluster mode, joined to the corosync of that namespace (started through
    /// nsenter, which execs, so the process is corrald itself); its log goes to DATA.log.
    /// `host`: an address of the node's namespace it listens on (port 8006, as a real node), else
    /// a loopback port of its own.
    init(
        name: String = "it1", dataDirectory: String? = nil, networkNamespace: String? = nil, host: String? = nil, config: String = "/dev/null",
        extraArguments: [String] = [], ownSysfs: Bool = false
    ) throws {
        self.nodeName = name
        self.host = host ?? "127.0.0.1"
        self.dataDirectory = dataDirectory ?? NSTemporaryDirectory() + "corral-it-\(UUID().uuidString)"
        var arguments =
            [
                "--data-dir", self.dataDirectory, "--listen", host.map { "\($0):8006" } ?? "127.0.0.1:0", "--nodename", name, "--www",
                Self.repository + "/www", "--config", config,
            ] + extraArguments
        let corrald = Self.buildDirectory + "/corrald"
        if let networkNamespace {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            process.arguments = ["--net=/run/netns/\(networkNamespace)", corrald] + arguments
            if ownSysfs {
                // liblxc finds bridges through /sys/class/net, which shows the namespace that mounted
                // sysfs: a mount namespace of its own with the node's sysfs (mounts the daemon makes
                // still reach the caller through a shared data directory, see FirewallTests)
                process.arguments =
                    [
                        "--net=/run/netns/\(networkNamespace)", "/usr/bin/unshare", "--mount", "--propagation", "unchanged", "/bin/sh", "-c",
                        "mount --make-private /sys && mount -t sysfs sysfs /sys && exec \"$0\" \"$@\"", corrald,
                    ] + arguments
            }
        } else {
            arguments.insert("--local", at: 0)
            process.executableURL = URL(fileURLWithPath: corrald)
            process.arguments = arguments
        }
        // a file, not a pipe: a pipe nobody drains would block the daemon's logging once it is full
        // (and with it every request of the test)
        let logPath = self.dataDirectory + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        logFile = logPath
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // corrald says "… (ports N)" once it listens
        var seen = ""
        let deadline = Date().addingTimeInterval(networkNamespace == nil ? 20 : 90)
        while port == 0 && Date() < deadline {
            seen = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if !process.isRunning { break }
            if let range = seen.range(of: "(ports "), let end = seen[range.upperBound...].firstIndex(of: ")") {
                port = UInt16(seen[range.upperBound..<end]) ?? 0
            }
            if port == 0 { usleep(20_000) }
        }
        guard port != 0 else { throw NSError(domain: "corrald did not start: \(seen)", code: 1) }
        if networkNamespace == nil || host != nil { try bootstrapAdmin() }
    }

    static let adminUser = "corral-test@pve"
    static let adminPassword = "corral-test-password"
    /// The admin's login: `PVEAuthCookie=…` and the CSRF token, used by `curl(node, …)`.
    private(set) var cookie: String?
    private(set) var csrf: String?

    /// Every API call needs a login now. As root on the node, the test does what an administrator
    /// does before the first login: writes a pve-realm administrator into user.cfg and
    /// priv/shadow.cfg through the mounted cluster filesystem. Then it logs in over HTTPS.
    func bootstrapAdmin() throws {
        let userCfg = mountpoint + "/user.cfg"
        let existing = (try? String(contentsOfFile: userCfg, encoding: .utf8)) ?? ""
        if !existing.contains("user:\(Self.adminUser):") {
            let hash = try runCommand("/usr/bin/openssl", ["passwd", "-6", Self.adminPassword]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try (existing + "user:\(Self.adminUser):1:0::::::\nacl:1:/:\(Self.adminUser):Administrator:\n").write(
                toFile: userCfg, atomically: false, encoding: .utf8)
            let shadow = mountpoint + "/priv/shadow.cfg"
            let old = (try? String(contentsOfFile: shadow, encoding: .utf8)) ?? ""
            try (old + "\(Self.adminUser.split(separator: "@")[0]):\(hash):\n").write(toFile: shadow, atomically: false, encoding: .utf8)
        }
        let login = try runCommand(
            "/usr/bin/curl",
            ["-s"] + (host == "127.0.0.1" ? ["--cacert", caFile] : ["-k"])
                + ["-d", "username=\(Self.adminUser)", "-d", "password=\(Self.adminPassword)", url + "/api2/json/access/ticket"])
        let data = (try? JSONSerialization.jsonObject(with: Data(login.stdout.utf8)) as? [String: Any])?["data"] as? [String: Any]
        guard let ticket = data?["ticket"] as? String, let token = data?["CSRFPreventionToken"] as? String else {
            throw NSError(domain: "admin login failed: \(login.stdout) \(login.stderr)", code: 1)
        }
        cookie = "PVEAuthCookie=" + (ticket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ticket)
        csrf = token
    }

    /// Acts as root@pam from here on, as root on the node can: a ticket signed with the node's
    /// ticket key and a CSRF token from its CSRF key, both read through the mounted tree (root-only
    /// endpoints such as creating a cluster need root@pam, and the test machine's root password is
    /// nobody's business).
    func loginAsRoot() throws {
        let key = try RSAKey(privatePEM: String(contentsOfFile: mountpoint + "/priv/authkey.key", encoding: .utf8))
        let www = try [UInt8](Data(contentsOf: URL(fileURLWithPath: mountpoint + "/pve-www.key")))
        let hex = String(UInt32(truncatingIfNeeded: Int(time(nil))), radix: 16, uppercase: true)
        let stamp = String(repeating: "0", count: 8 - hex.count) + hex
        let plain = "PVE:root@pam:" + stamp
        let ticket = plain + "::" + Data(try key.sign(Array(plain.utf8), digest: .sha1)).base64EncodedString()
        func unpadded(_ bytes: [UInt8]) -> String {
            var text = Data(bytes).base64EncodedString()
            while text.hasSuffix("=") { text.removeLast() }
            return text
        }
        let secret = Array(unpadded(Digest.hmacSHA256(key: www, data: [])).utf8)
        csrf = stamp + ":" + unpadded(Digest.hmacSHA256(key: secret, data: Array("\(stamp):root@pam".utf8)))
        cookie = "PVEAuthCookie=" + (ticket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ticket)
    }

    private(set) var logFile: String?
    var log: String { logFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }
    var mountpoint: String { dataDirectory + "/pve" }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        awaitExit("SIGKILL")
    }

    /// Waits for the process to end, at most 60 s: one stuck in the kernel (a FUSE request nobody
    /// answers) gets its stacks printed and is left behind, so the test goes on to fail, not hang.
    private func awaitExit(_ after: String) {
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            print("[test harness] \(nodeName) still there 60 s after \(after); its threads:\n\(threadStacks(of: process.processIdentifier))")
        } else {
            process.waitUntilExit()
        }
    }

    let host: String
    var url: String { "https://\(host):\(port)" }
    var caFile: String { dataDirectory + "/pve/pve-root-ca.pem" }

    /// SIGTERM, and SIGKILL after `grace` seconds: a daemon that does not stop prints where it hung
    /// instead of stalling the run.
    func terminate(grace: Double = 60) -> Int32 {
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            print(
                "[test harness] \(nodeName) did not stop within \(Int(grace)) s of SIGTERM; its threads:\n\(threadStacks(of: process.processIdentifier))"
            )
            print("--- \(nodeName) log:\n\(log.suffix(4000))")
            kill(process.processIdentifier, SIGKILL)
        }
        awaitExit("SIGTERM and SIGKILL")
        return process.isRunning ? -1 : process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

/// curl against the node as its administrator, verifying its certificate with the cluster CA.
/// `anonymous` leaves the login out.
func curl(_ node: NodeProcess, _ path: String, _ extra: [String] = [], anonymous: Bool = false) throws -> (status: Int, body: String) {
    var auth: [String] = []
    if !anonymous, let cookie = node.cookie, let csrf = node.csrf { auth = ["-b", cookie, "-H", "CSRFPreventionToken: \(csrf)"] }
    // a node on a namespace address presents a certificate for its name, not that address
    let trust = node.host == "127.0.0.1" ? ["--cacert", node.caFile] : ["-k"]
    // a bound on every request: a daemon that stops answering fails the test, not the whole run
    let r = try runCommand("/usr/bin/curl", ["-s", "--max-time", "300", "-w", "\n%{http_code}"] + trust + auth + extra + [node.url + path])
    let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

extension NodeProcess {
    /// A standalone node in network namespace `namespace` with a sysfs of its own (containers there
    /// need it). Its data directory is a shared mount, so the FUSE mount the daemon makes in its own
    /// mount namespace reaches the test. `releaseIsolated` removes the directory.
    static func isolated(name: String, namespace: String, host: String) throws -> NodeProcess {
        let data = NSTemporaryDirectory() + "corral-it-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let shared = try runCommand("/bin/sh", ["-c", "mount --bind \(data) \(data) && mount --make-shared \(data)"])
        guard shared.status == 0 else { throw TestFailure("cannot share \(data): \(shared.stderr)") }
        do {
            return try NodeProcess(
                name: name, dataDirectory: data, networkNamespace: namespace, host: host,
                extraArguments: ["--local", "--set", "domain-prefix=\(name)-"], ownSysfs: true)
        } catch {
            releaseIsolated(data)
            throw error
        }
    }

    static func releaseIsolated(_ data: String) { _ = try? runCommand("/bin/sh", ["-c", "umount -l \(data); rm -rf \(data)"]) }
}
