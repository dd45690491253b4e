import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

/// Live migration between two real nodes (corosync in a namespace each, a libvirtd of each node's
/// own): the tiny guest counts on its serial console while it moves with a disk on shared storage
/// and one copied on the way; its count goes on on the target without a reboot. Then a migration
/// that fails (the target's libvirtd is down) leaves it running where it was.
@Suite(.serialized) struct LiveMigrationTests {
    typealias S = SDNTests
    static let script = NodeProcess.repository + "/Tests/Guest/libvirt-node.sh"

    static func libvirt(_ cluster: TestCluster, _ i: Int) -> String { "qemu:///system?socket=\(cluster.dir)/d\(i)/libvirt/sock/libvirt-sock" }

    static func startLibvirt(_ cluster: TestCluster, _ i: Int) throws {
        let r = try runCommand("/bin/bash", [script, "start", "\(cluster.dir)/d\(i)", "cfstn\(i)"])
        guard r.status == 0 else { throw TestFailure("libvirtd of n\(i): \(r.stdout)\(r.stderr)") }
    }

    static func stopLibvirt(_ cluster: TestCluster, _ i: Int) { _ = try? runCommand("/bin/bash", [script, "stop", "\(cluster.dir)/d\(i)"]) }

    static func domains(_ cluster: TestCluster, _ i: Int) -> [String] {
        let r = try? runCommand("/usr/bin/virsh", ["-c", libvirt(cluster, i), "list", "--name"])
        return (r?.stdout ?? "").split(separator: "\n").map(String.init)
    }

    /// The guest's count lines as they appear in a serial log, with the time this test saw them.
    final class CountWatcher: @unchecked Sendable {
        private let seen = Mutex<[(count: Int, at: Double)]>([])
        private let running = Atomic<Bool>(true)

        init(logs: [String]) {
            Thread.detachNewThread { [self] in
                var offsets = [Int](repeating: 0, count: logs.count)
                while running.load(ordering: .acquiring) {
                    for (i, log) in logs.enumerated() {
                        guard let data = FileManager.default.contents(atPath: log), data.count > offsets[i] else { continue }
                        // whole lines only (the console ends them with \r\n)
                        let bytes = [UInt8](data[offsets[i]...])
                        guard let end = bytes.lastIndex(of: 10) else { continue }
                        let now = Date().timeIntervalSince1970
                        for line in String(decoding: bytes[..<end], as: UTF8.self).split(whereSeparator: \.isNewline) {
                            guard let range = line.range(of: "CORRAL-COUNT "), let n = Int(line[range.upperBound...].prefix { $0.isNumber }) else {
                                continue
                            }
                            seen.withLock { $0.append((n, now)) }
                        }
                        offsets[i] += end + 1
                    }
                    usleep(20_000)
                }
            }
        }

        func stop() { running.store(false, ordering: .releasing) }
        var samples: [(count: Int, at: Double)] { seen.withLock { $0 } }
        var last: Int { samples.last?.count ?? 0 }
    }

    @Test(.enabled(if: TestCluster.available)) func aRunningVMMovesLiveAndKeepsCounting() throws {
        let iso = try VMTests.prepare()
        let cluster = try TestCluster(nodes: 2, ownSysfs: true) { i, dir in
            ["--set", "libvirt-uri=qemu:///system?socket=\(dir)/d\(i)/libvirt/sock/libvirt-sock", "--set", "domain-prefix=corral-lm-n\(i)-"]
        }
        defer {
            for i in 1...2 { Self.stopLibvirt(cluster, i) }
            cluster.down()
        }
        for i in 1...2 { try Self.startLibvirt(cluster, i) }
        let n1 = cluster.daemons[1]!, n2 = cluster.daemons[2]!
        let shared = cluster.dir + "/shared-store"
        try FileManager.default.createDirectory(atPath: shared + "/template/iso", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: iso, toPath: shared + "/template/iso/tiny.iso")
        try S.ok(n1, "POST", "/storage", ["storage=shared", "type=dir", "path=\(shared)", "content=images,iso", "shared=1"])
        for i in 1...2 {
            let path = cluster.dir + "/only\(i)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try S.ok(n1, "POST", "/storage", ["storage=only\(i)", "type=dir", "path=\(path)", "content=images", "nodes=n\(i)"])
        }
        let vmid = 395
        let created = try VMTests.task(
            n1, "POST", "/nodes/n1/qemu",
            [
                "vmid=\(vmid)", "memory=256", "kvm=0", "scsihw=virtio-scsi-pci", "scsi0=shared:0.0625,format=raw", "scsi1=only1:0.03125,format=raw",
                "ide2=shared:iso/tiny.iso,media=cdrom", "boot=order=ide2", "serial0=socket",
            ])
        #expect(created == "OK")
        // the shared disk makes the guest count; the local one carries bytes that must arrive
        let counting = shared + "/images/\(vmid)/vm-\(vmid)-disk-0.raw"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: counting))
        handle.write(Data("CORRAL-COUNT-ME!".utf8))
        try handle.close()
        let pattern = Data((0..<262_144).map { UInt8(($0 * 7) % 253) })
        let local = cluster.dir + "/only1/images/\(vmid)/vm-\(vmid)-disk-0.raw"
        let localHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: local))
        localHandle.write(pattern)
        try localHandle.close()

        #expect(try VMTests.task(n1, "POST", "/nodes/n1/qemu/\(vmid)/status/start") == "OK")
        let logs = [cluster.dir + "/d1/log/\(vmid).serial0.log", cluster.dir + "/d2/log/\(vmid).serial0.log"]
        let watcher = CountWatcher(logs: logs)
        defer { watcher.stop() }
        #expect(S.waitFor(90) { watcher.last >= 10 }, "the guest counts: \((try? String(contentsOfFile: logs[0], encoding: .isoLatin1)) ?? "")")

        // the precondition check and its refusals: nothing moves
        let check = try S.data(n1, "/nodes/n1/qemu/\(vmid)/migrate?target=n2") as? [String: Any] ?? [:]
        #expect(check["running"] as? Int == 1, "\(check)")
        #expect((check["local_disks"] as? [[String: Any]])?.first?["volid"] as? String == "only1:\(vmid)/vm-\(vmid)-disk-0.raw", "\(check)")
        #expect(try S.refused(n1, "POST", "/nodes/n1/qemu/\(vmid)/migrate", ["target=n2", "targetstorage=only2"], field: "online"))
        #expect(
            try S.refused(n1, "POST", "/nodes/n1/qemu/\(vmid)/migrate", ["target=n2", "online=1", "targetstorage=only2"], field: "with-local-disks"))
        #expect(try S.refused(n1, "POST", "/nodes/n1/qemu/\(vmid)/migrate", ["target=nosuch", "online=1", "with-local-disks=1"], field: "target"))
        #expect(FileManager.default.fileExists(atPath: cluster.path(1, "nodes/n1/qemu-server/\(vmid).conf")))
        // a guest on a bridge the target lacks stays where it is
        _ = try S.sh("ip netns exec cfstn1 ip link add brlm0 type bridge && ip netns exec cfstn1 ip link set brlm0 up")
        #expect(try VMTests.task(n1, "POST", "/nodes/n1/qemu", ["vmid=396", "memory=64", "net0=virtio,bridge=brlm0"]) == "OK")
        let bridged = try S.api(n1, "POST", "/nodes/n1/qemu/396/migrate", ["target=n2"])
        #expect(bridged.status == 400 && bridged.body.contains("brlm0"), "\(bridged.body)")
        #expect(FileManager.default.fileExists(atPath: cluster.path(1, "nodes/n1/qemu-server/396.conf")))
        #expect(try VMTests.task(n1, "DELETE", "/nodes/n1/qemu/396") == "OK")

        // live, with the local disk copied into only2
        let before = watcher.last
        let moved = try VMTests.task(
            n1, "POST", "/nodes/n1/qemu/\(vmid)/migrate", ["target=n2", "online=1", "with-local-disks=1", "targetstorage=only2", "bwlimit=51200"],
            timeout: 240)
        let taskLog = try GuestAgentTests.lastTaskLog(n1, type: "qmigrate")
        let libvirtLogs = (1...2).map { (try? String(contentsOfFile: "\(cluster.dir)/d\($0)/libvirt/libvirtd.log", encoding: .utf8)) ?? "" }
        #expect(
            moved == "OK" && taskLog.contains("runs on node 'n2'"),
            "\(taskLog)\nlibvirtd n1: \(libvirtLogs[0].suffix(3000))\nlibvirtd n2: \(libvirtLogs[1].suffix(3000))")
        let config = (try? String(contentsOfFile: cluster.path(1, "nodes/n2/qemu-server/\(vmid).conf"), encoding: .utf8)) ?? ""
        #expect(config.contains("scsi1: only2:\(vmid)/vm-\(vmid)-disk-0.raw") && !config.contains("lock:"), "\(config)")
        #expect(!FileManager.default.fileExists(atPath: cluster.path(1, "nodes/n1/qemu-server/\(vmid).conf")))
        #expect(Self.domains(cluster, 1).isEmpty && Self.domains(cluster, 2) == ["corral-lm-n2-\(vmid)"], "\(Self.domains(cluster, 2))")
        let status = try S.data(n1, "/nodes/n2/qemu/\(vmid)/status/current") as? [String: Any] ?? [:]
        #expect(status["status"] as? String == "running" && status["qmpstatus"] as? String == "running", "\(status)")

        // it went on counting on n2, without a reboot; the longest silence is the downtime (an upper bound)
        #expect(
            S.waitFor(30) { watcher.last >= before + 30 }, "counting on n2: \((try? String(contentsOfFile: logs[1], encoding: .isoLatin1)) ?? "")")
        let targetLog = (try? String(contentsOfFile: logs[1], encoding: .isoLatin1)) ?? ""
        #expect(!targetLog.contains("CORRAL-TINY-GUEST-READY"), "no reboot on n2")
        let samples = watcher.samples
        let increasing = zip(samples, samples.dropFirst()).allSatisfy { $0.count < $1.count }
        #expect(increasing, "the count never went back")
        let gap = zip(samples, samples.dropFirst()).map { $1.at - $0.at }.max() ?? 0
        print(String(format: "live migration: longest pause of the guest's count %.2f s", gap))
        print("live migration log:", taskLog.split(separator: "\n").filter { $0.contains("ms") || $0.contains("finished") }.joined(separator: "; "))
        #expect(gap < 5, "downtime bounded")
        let arrived = FileManager.default.contents(atPath: cluster.dir + "/only2/images/\(vmid)/vm-\(vmid)-disk-0.raw")
        #expect(arrived?.prefix(pattern.count) == pattern, "the local disk's bytes arrived")
        #expect(!FileManager.default.fileExists(atPath: local), "the source copy is freed")

        // its figures since it runs on n2, asked of n1 (forwarded to n2, where its history is)
        var history: [[String: Any]] = []
        #expect(
            S.waitFor(30) {
                history = ((try? S.data(n1, "/nodes/n2/qemu/\(vmid)/rrddata?timeframe=hour")) as? [[String: Any]] ?? []).filter { $0["cpu"] != nil }
                return !history.isEmpty
            }, "rrddata of the running VM on n2")
        #expect(history.last?["maxmem"] as? Double == 256 * 1_048_576 && (history.last?["mem"] as? Double ?? 0) > 0, "\(history.suffix(1))")
        // pull collectors ask any node for the cluster's figures: node 1 asks node 2 for its part
        var exported: [[String: Any]] = []
        #expect(
            S.waitFor(30) {
                exported = ((try? S.data(n1, "/cluster/metrics/export")) as? [String: Any])?["data"] as? [[String: Any]] ?? []
                return exported.contains { $0["id"] as? String == "qemu/\(vmid)" && $0["metric"] as? String == "cpu_current" }
            }, "the running VM on n2 in n1's /cluster/metrics/export")
        #expect(exported.contains { $0["id"] as? String == "node/n1" } && exported.contains { $0["id"] as? String == "node/n2" })
        // and Prometheus scraping node 1 sees the guest node 2 runs
        let scraped = try curl(n1, "/api2/prometheus/metrics")
        #expect(scraped.status == 200 && scraped.body.contains("pve_up{id=\"qemu/\(vmid)\"} 1\n"), "\(scraped.body.prefix(300))")

        // a migration that fails (node 1's libvirtd is down) leaves the VM running on n2 with its config
        Self.stopLibvirt(cluster, 1)
        let failed = try VMTests.task(
            n2, "POST", "/nodes/n2/qemu/\(vmid)/migrate", ["target=n1", "online=1", "with-local-disks=1", "targetstorage=only1"])
        #expect(failed != "OK")
        let failedLog = try GuestAgentTests.lastTaskLog(n2, type: "qmigrate")
        #expect(failedLog.contains("stays on this node"), "\(failedLog)")
        #expect(FileManager.default.fileExists(atPath: cluster.path(1, "nodes/n2/qemu-server/\(vmid).conf")))
        let afterFailure = watcher.last
        #expect(S.waitFor(20) { watcher.last > afterFailure + 10 }, "still counting on n2")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: cluster.dir + "/only1/images/\(vmid)")) ?? []
        #expect(leftovers.isEmpty, "nothing left on the target: \(leftovers)")
        #expect(try VMTests.task(n2, "POST", "/nodes/n2/qemu/\(vmid)/status/stop") == "OK")
    }
}
