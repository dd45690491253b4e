import ClusterFS
import Corosync
import Dispatch
import FUSE
import Foundation
import Glibc

/// `corral clusterfs-bench`: the cluster filesystem measured from inside, for `make bench`.
///
///   corral clusterfs-bench local DIR [FILES] [MIB]
///       in-process API create-write-close of 1 KiB files against open/write/close on tmpfs; then a
///       tree of FILES files (default 100000) and MIB MiB (default 128), read at random in-process
///       and through a FUSE mount of it (latency p50/p99).
///   corral clusterfs-bench latency DIR [COUNT]
///       on a node whose corosync has a quorate Corral cluster: joins it with a fresh database, then
///       times COUNT replicated 1 KiB writes (call to return, i.e. ordered and applied) against raw
///       CPG round trips (multicast to own delivery) on a group of its own.
enum ClusterFSBench {
    static func run(_ arguments: [String]) -> Int32 {
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: corral clusterfs-bench local DIR [FILES] [MIB] | latency DIR [COUNT]\n".utf8))
            return 2
        }
        let dir = arguments[1]
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        do {
            switch arguments[0] {
            case "local":
                try local(
                    dir: dir, files: arguments.count > 2 ? Int(arguments[2]) ?? 100_000 : 100_000,
                    mebibytes: arguments.count > 3 ? Int(arguments[3]) ?? 128 : 128)
            case "latency":
                try latency(dir: dir, count: arguments.count > 2 ? Int(arguments[2]) ?? 2000 : 2000)
            default:
                FileHandle.standardError.write(Data("unknown mode '\(arguments[0])'\n".utf8))
                return 2
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("clusterfs-bench: \(error)\n".utf8))
            return 1
        }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func line(_ name: String, _ value: Double, _ floorName: String, _ floor: Double, higherIsBetter: Bool) {
        let ratio = higherIsBetter ? value / floor : floor / value
        print(String(format: "%-44@ %12.1f   %-26@ %12.1f   ratio %.2f", name as NSString, value, floorName as NSString, floor, ratio))
    }

    // MARK: local

    static func local(dir: String, files: Int, mebibytes: Int) throws {
        let fs = try ClusterFS(databasePath: dir + "/bench.db", nodeName: "bench")
        let payload = [UInt8](repeating: 0x61, count: 1024)
        try fs.mkdir("bench")
        let n = 5000
        var start = now()
        for i in 0..<n { try fs.create("bench/c\(i).cfg", payload) }
        let apiRate = Double(n) / (Double(now() - start) / 1e9)
        let shm = "/dev/shm/corral-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shm) }
        start = now()
        for i in 0..<n {
            let fd = open("\(shm)/c\(i).cfg", O_WRONLY | O_CREAT | O_TRUNC, 0o640)
            _ = payload.withUnsafeBytes { write(fd, $0.baseAddress, 1024) }
            close(fd)
        }
        let tmpfsRate = Double(n) / (Double(now() - start) / 1e9)
        line("in-process create-write-close 1 KiB /s", apiRate, "tmpfs open-write-close /s", tmpfsRate, higherIsBetter: true)

        // a big tree: FILES files, MIB MiB in all, 1000 per directory
        let size = mebibytes * 1024 * 1024 / files
        let body = [UInt8](repeating: 0x62, count: size)
        start = now()
        for d in 0..<(files + 999) / 1000 { try fs.mkdir("big\(d)") }
        for i in 0..<files { try fs.write("big\(i / 1000)/f\(i).cfg", body) }
        let fill = Double(now() - start) / 1e9
        let usage = fs.usage
        print(
            String(
                format: "tree: %d entries, %.1f MiB, filled in %.1f s (%.0f writes/s)", usage.entries, Double(usage.bytes) / 1048576, fill,
                Double(files) / fill))

        var samples: [Double] = []
        for _ in 0..<100_000 {
            let i = Int.random(in: 0..<files)
            let t = now()
            _ = try fs.read("big\(i / 1000)/f\(i).cfg")
            samples.append(Double(now() - t) / 1000)
        }
        print(String(format: "in-process read, %d files: p50 %.2f µs, p99 %.2f µs", files, percentile(samples, 0.5), percentile(samples, 0.99)))

        let mountpoint = dir + "/mnt"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let mount = try fs.mount(at: mountpoint, options: ["fsname=corral-bench"])
        defer { mount.unmount() }
        usleep(200_000)
        samples = []
        var buffer = [UInt8](repeating: 0, count: size + 1)
        for _ in 0..<20_000 {
            let i = Int.random(in: 0..<files)
            let t = now()
            let fd = open("\(mountpoint)/big\(i / 1000)/f\(i).cfg", O_RDONLY)
            guard fd >= 0 else { throw CLIError.failed("cannot open through FUSE: \(String(cString: strerror(errno)))", code: 1) }
            _ = read(fd, &buffer, buffer.count)
            close(fd)
            samples.append(Double(now() - t) / 1000)
        }
        print(
            String(
                format: "FUSE open-read-close, %d files, %.0f MiB: p50 %.1f µs, p99 %.1f µs", files, Double(usage.bytes) / 1048576,
                percentile(samples, 0.5), percentile(samples, 0.99)))
    }

    // MARK: latency

    private final class PingListener: CorosyncListener, @unchecked Sendable {
        let delivered = DispatchSemaphore(value: 0)
        let joined = DispatchSemaphore(value: 0)
        var me: CPGMember?
        func corosyncConnected(localNodeID: UInt32, localPID: UInt32, nodes: [ClusterNode], clusterName: String) {
            me = CPGMember(nodeID: localNodeID, pid: localPID)
        }
        func corosyncDisconnected() {}
        func corosyncQuorumChanged(_ quorate: Bool) {}
        func corosyncDelivered(group: String, from: CPGMember, message: [UInt8]) { if from == me { delivered.signal() } }
        func corosyncMembershipChanged(group: String, members: [CPGMember], left: [CPGMember], joined: [CPGMember]) {
            if joined.contains(where: { $0 == me }) { self.joined.signal() }
        }
    }

    static func latency(dir: String, count: Int) throws {
        // raw CPG: multicast a 1 KiB message and wait for its own delivery
        let listener = PingListener()
        let ping = CorosyncConnection(groups: ["corral_bench_ping"], listener: listener)
        ping.start()
        guard listener.joined.wait(timeout: .now() + 10) == .success else {
            throw CLIError.failed("could not join a CPG group: is corosync running here?", code: 1)
        }
        var raw: [Double] = []
        let message = [UInt8](repeating: 0x70, count: 1024)
        for _ in 0..<count {
            let t = now()
            try ping.send(group: "corral_bench_ping", message)
            _ = listener.delivered.wait(timeout: .now() + 5)
            raw.append(Double(now() - t) / 1000)
        }
        ping.stop()

        // the cluster filesystem: a member of its own with a fresh database
        let database = dir + "/latency-\(getpid()).db"
        defer { for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) } }
        let fs = try ClusterFS(databasePath: database, nodeName: "bench\(getpid())", local: false)
        let link = ClusterLink(fs: fs)
        defer { link.stop() }
        let joinStart = now()
        guard link.waitUntilWritable(timeout: 30) else {
            throw CLIError.failed("no quorate Corral cluster reachable through the local corosync", code: 1)
        }
        let entries = fs.usage.entries
        print(String(format: "joined and synchronised %d entries in %.0f ms", entries, Double(now() - joinStart) / 1e6))
        try? fs.mkdir("bench-latency")
        var replicated: [Double] = []
        let payload = [UInt8](repeating: 0x71, count: 1024)
        for i in 0..<count {
            let t = now()
            try fs.write("bench-latency/f\(i % 100).cfg", payload)
            replicated.append(Double(now() - t) / 1000)
        }
        for i in 0..<100 { try? fs.delete("bench-latency/f\(i).cfg") }
        try? fs.delete("bench-latency")
        let rawP50 = percentile(raw, 0.5), rawP99 = percentile(raw, 0.99)
        let repP50 = percentile(replicated, 0.5), repP99 = percentile(replicated, 0.99)
        print(String(format: "raw CPG round trip, 1 KiB:           p50 %8.1f µs   p99 %8.1f µs", rawP50, rawP99))
        print(String(format: "replicated write, 1 KiB (returned):  p50 %8.1f µs   p99 %8.1f µs", repP50, repP99))
        print(
            String(
                format: "overhead over raw CPG: p50 +%.1f µs (target ≤ +1000 µs), p99 +%.1f µs; writes/s one writer: %.0f",
                repP50 - rawP50, repP99 - rawP99, Double(count) / (replicated.reduce(0, +) / 1e6)))
    }
}
