import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

/// A real N-node cluster on this machine: corosync per network namespace (Tests/Cluster/cluster.sh)
/// and one corrald per node, joined to its namespace's corosync, its filesystem mounted where the
/// test can read and write it.
final class TestCluster: @unchecked Sendable {
    let dir: String
    let size: Int
    private(set) var daemons: [Int: NodeProcess] = [:]
    static let script = NodeProcess.repository + "/Tests/Cluster/cluster.sh"
    static let environment = ["CORRAL_CLUSTER_PREFIX": "cfst", "CORRAL_CLUSTER_SUBNET": "10.213.9"]

    static var available: Bool {
        getuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0 && access("/usr/sbin/corosync", X_OK) == 0
    }

    /// Brings the cluster up; a start that fails (corosync on a loaded 2-core machine now and then
    /// loses a node while corralds join) is retried once from scratch, its logs kept for a look.
    /// Daemons with a sysfs of their namespace's own (what containers on a node need).
    let ownSysfs: Bool
    /// More corrald arguments for node i of the cluster in directory dir (its libvirt, say).
    let extraArguments: @Sendable (_ i: Int, _ dir: String) -> [String]

    init(
        nodes: Int, verifyInterval: Int = 60, ownSysfs: Bool = false, extraArguments: @escaping @Sendable (Int, String) -> [String] = { _, _ in [] }
    ) throws {
        size = nodes
        self.ownSysfs = ownSysfs
        self.extraArguments = extraArguments
        dir = NSTemporaryDirectory() + "corral-cluster-\(UUID().uuidString.prefix(8))"
        do {
            try start(verifyInterval: verifyInterval)
        } catch {
            let kept = dir + "-failed-start"
            try? FileManager.default.copyItem(atPath: dir, toPath: kept)
            print("cluster start failed (\(error)); logs kept in \(kept); retrying")
            down(removeFiles: false)
            // from scratch: a half-made first start (a lock taken, no certificate) must not carry over
            for i in 1...nodes { try? FileManager.default.removeItem(atPath: "\(dir)/d\(i)") }
            try start(verifyInterval: verifyInterval)
        }
    }

    private func start(verifyInterval: Int) throws {
        _ = try? script(["down", dir])  // a cluster of an earlier, killed run
        // with their own sysfs the nodes run containers, and the test calls their API through the host's veth
        let up = try script([ownSysfs ? "up-host" : "up", "\(size)", dir])
        guard up.status == 0 else {
            _ = try? script(["down", dir])
            throw NSError(domain: "cluster did not come up: \(up.stdout)\(up.stderr)", code: 1)
        }
        if ownSysfs {
            // the daemons mount in mount namespaces of their own: a shared directory carries their FUSE mounts here
            _ = try runCommand("/bin/sh", ["-c", "mount --bind '\(dir)' '\(dir)' && mount --make-shared '\(dir)'"])
        }
        do {
            // together, as systemd starts them after a cluster-wide boot: a first start waits for a quorate group
            let started = Mutex<[Int: Result<NodeProcess, any Error>]>([:])
            let dir = dir, ownSysfs = ownSysfs, extra = extraArguments
            DispatchQueue.concurrentPerform(iterations: size) { index in
                let result = Result {
                    try Self.daemon(index + 1, dir: dir, verifyInterval: verifyInterval, ownSysfs: ownSysfs, extra: extra(index + 1, dir))
                }
                started.withLock { $0[index + 1] = result }
            }
            for (i, result) in started.withLock({ $0 }) {
                if case .success(let node) = result { daemons[i] = node }
            }
            for (_, result) in started.withLock({ $0 }) { _ = try result.get() }
        } catch {
            down(removeFiles: false)
            throw error
        }
    }

    /// Runs cluster.sh with its output in a file, through posix_spawn and waitpid: the corosync it
    /// starts in the background outlives it and keeps whatever descriptors it inherited, which makes
    /// Foundation's Process wait forever.
    @discardableResult
    func script(_ arguments: [String]) throws -> CommandResult {
        let logPath = dir + ".script.log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ["/bin/bash", Self.script] + arguments
        let env = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }.map { "\($0.key)=\($0.value)" }
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/bash", &actions, nil, &cArgs, &cEnv)
        guard rc == 0 else { throw NSError(domain: "posix_spawn failed: \(rc)", code: Int(rc)) }
        var status: Int32 = 0
        // bounded like every command a test runs: a stuck corosync tool fails the test, with its stacks
        let deadline = Date().addingTimeInterval(300)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if Date() > deadline {
                print("[test harness] cluster.sh \(arguments) still running after 300 s:\n\(threadStacks(of: pid))")
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(20_000)
        }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return CommandResult(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), stdout: output, stderr: "")
    }

    func startDaemon(_ i: Int, verifyInterval: Int = 60) throws {
        daemons[i] = try Self.daemon(i, dir: dir, verifyInterval: verifyInterval, ownSysfs: ownSysfs, extra: extraArguments(i, dir))
    }

    private static func daemon(_ i: Int, dir: String, verifyInterval: Int, ownSysfs: Bool, extra: [String]) throws -> NodeProcess {
        try NodeProcess(
            name: "n\(i)", dataDirectory: "\(dir)/d\(i)", networkNamespace: "cfstn\(i)",
            host: ownSysfs ? "\(environment["CORRAL_CLUSTER_SUBNET"]!).\(i)" : nil,
            // cluster.sh runs corosync; the node's copy of its configuration is what puts corrald in cluster mode
            extraArguments: [
                "--verify-interval", "\(verifyInterval)", "--set", "corosync-conf=\(dir)/n\(i)/corosync.conf", "--set", "corosync-start=none",
            ] + extra, ownSysfs: ownSysfs)
    }

    /// Runs `body`, but a body still running after `seconds` fails the test instead of hanging the
    /// run: the daemons' kernel stacks and log tails are printed, then they are killed, which ends
    /// every FUSE call still waiting on them.
    func bounded<T>(_ seconds: Double, _ what: String, _ body: () throws -> T) rethrows -> T {
        let done = DispatchSemaphore(value: 0)
        let pids = daemons.map { ($0.key, $0.value.process.processIdentifier, $0.value.logFile) }
        let fired = Atomic<Bool>(false)
        DispatchQueue.global().async {
            guard done.wait(timeout: .now() + seconds) == .timedOut else { return }
            fired.store(true, ordering: .sequentiallyConsistent)
            print("\(what) still running after \(Int(seconds)) s: killing the daemons")
            for (i, pid, log) in pids.sorted(by: { $0.0 < $1.0 }) {
                let stacks = threadStacks(of: pid)
                let tail = (try? runCommand("/usr/bin/tail", ["-n", "40", log ?? "/dev/null"]))?.stdout ?? ""
                print("--- node \(i) (pid \(pid)) threads:\n\(stacks)\n--- node \(i) log:\n\(tail)")
                kill(pid, SIGKILL)
            }
        }
        defer {
            done.signal()
            if fired.load(ordering: .sequentiallyConsistent) { Issue.record("\(what) hung for \(Int(seconds)) s") }
        }
        return try body()
    }

    func stopDaemon(_ i: Int) { _ = daemons.removeValue(forKey: i)?.terminate() }
    func killDaemon(_ i: Int) { daemons.removeValue(forKey: i)?.kill9() }
    func killCorosync(_ i: Int) throws { try script(["kill", "\(i)", dir]) }
    func startCorosync(_ i: Int) throws { try script(["start", "\(i)", dir]) }

    func path(_ i: Int, _ file: String) -> String { "\(dir)/d\(i)/pve/\(file)" }

    /// `.clusterfs-status` of node i, parsed.
    func status(_ i: Int) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path(i, ".clusterfs-status")),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return json
    }

    /// Waits until every listed node is synchronised, quorate, and all hold the same tree.
    func waitAgreed(_ nodes: [Int]? = nil, timeout: Double = 45) -> Bool {
        let list = nodes ?? Array(1...size)
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let states = list.map(status)
            if states.allSatisfy({ $0["mode"] as? String == "synced" && $0["quorate"] as? Int == 1 }),
                Set(states.compactMap { $0["checksum"] as? String }).count == 1, states.count == list.count
            {
                return true
            }
            usleep(100_000)
        } while Date() < deadline
        return false
    }

    func waitUntil(timeout: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if condition() { return true }
            usleep(100_000)
        } while Date() < deadline
        return false
    }

    func down(removeFiles: Bool = true) {
        for i in daemons.keys { stopDaemon(i) }
        _ = try? script(["down", dir])
        // a daemon that died mid-test leaves a dead mount: detach whatever is still mounted here
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 1, fields[1].hasPrefix(dir + "/") { umount2(String(fields[1]), Int32(MNT_DETACH)) }
        }
        if ownSysfs { umount2(dir, Int32(MNT_DETACH)) }
        guard removeFiles else { return }
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.removeItem(atPath: dir + ".script.log")
    }
}

/// Writes a file through the kernel; 0 or the errno of open, write or close (close commits).
func writeThroughFUSE(_ path: String, _ text: String) -> Int32 {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o640)
    guard fd >= 0 else { return errno }
    let bytes = Array(text.utf8)
    if write(fd, bytes, bytes.count) != bytes.count {
        let e = errno
        close(fd)
        return e
    }
    return close(fd) == 0 ? 0 : errno
}

func readThroughFUSE(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
